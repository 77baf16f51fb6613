//! Random but realistic completed payments, entirely determined by a seed (apart from the ids,
//! which come from the OS CSPRNG like every payment id, so that reruns never overwrite earlier
//! items).
//!
//! The payments come newest first: their `created_at` values are the order statistics of
//! `count` uniform draws over the window, generated one at a time from the largest down. The
//! set of dates is exactly as uniform as independent draws, but consecutive payments fall on
//! the same few days, so the aggregate counters the writer accumulates between two flushes
//! touch few (card type, day) items.

use fake::Fake;
use fake::faker::name::raw::{FirstName, LastName};
use fake::locales::{DE_DE, EN, FR_FR, IT_IT, PT_PT};
use payrail_shared::domain::card::luhn_check_digit;
use payrail_shared::domain::{
    AccountId, CardNumber, CardSummary, CardType, Country, Currency, FingerprintKey, MS_PER_DAY,
    MinorUnits, Payment, PaymentId, PaymentMethod, PaymentStatus, PaymentType, Timestamp,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// `count` completed payments created in the `days` days before `now`, newest first.
///
/// The same arguments give the same payments except for their ids (and, with another key,
/// their card fingerprints).
pub fn payments(
    seed: u64,
    count: u64,
    days: u32,
    now: Timestamp,
    fingerprint_key: Option<FingerprintKey>,
) -> impl Iterator<Item = Payment> + Send {
    let window = i64::from(days) * MS_PER_DAY;
    Payments {
        rng: ChaCha8Rng::seed_from_u64(seed),
        markets: Market::all(),
        key: fingerprint_key,
        now,
        start: now.millis() - window,
        window,
        expiry_year: year_of(now),
        remaining: count,
        position: 1.0,
    }
}

struct Payments {
    rng: ChaCha8Rng,
    markets: Vec<Market>,
    key: Option<FingerprintKey>,
    now: Timestamp,
    start: i64,
    window: i64,
    expiry_year: u16,
    remaining: u64,
    /// Where in the window (0..1) the previous payment fell; the next one is below it.
    position: f64,
}

impl Iterator for Payments {
    type Item = Payment;

    fn next(&mut self) -> Option<Payment> {
        while self.remaining > 0 {
            // The largest of k uniform draws is U^(1/k); below it, the rest are k-1 uniform draws.
            let k = self.remaining as f64;
            self.position *= self.rng.random::<f64>().powf(1.0 / k);
            self.remaining -= 1;
            // Every draw is valid by construction (the unit tests check each part); a payment
            // that failed a domain check anyway would be skipped rather than written.
            if let Some(payment) = self.draw() {
                return Some(payment);
            }
        }
        None
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, usize::try_from(self.remaining).ok())
    }
}

impl Payments {
    fn draw(&mut self) -> Option<Payment> {
        let offset = (self.position * self.window as f64) as i64;
        // offset < window because position < 1, so created_at < now: never in the future.
        let created_at = (self.start + offset).clamp(self.start, self.now.millis());
        let rng = &mut self.rng;

        let market = pick(rng, &self.markets, |m| m.spec.weight)?;
        let card_type = *pick(rng, &CARD_TYPE_WEIGHTS, |(_, w)| *w).map(|(t, _)| t)?;
        let payment_type = if rng.random_bool(0.7) {
            PaymentType::Online
        } else {
            PaymentType::Offline
        };
        let (method, card) = if card_type.is_wallet() {
            (PaymentMethod::Wallet, None)
        } else {
            let number = card_number(rng, card_type)?;
            let exp_month = rng.random_range(1..=12u8);
            let exp_year = self.expiry_year + rng.random_range(1..=5u16);
            let credit = card_type == CardType::Amex || rng.random_bool(0.62);
            let method = if credit {
                PaymentMethod::CreditCard
            } else {
                PaymentMethod::DebitCard
            };
            (
                method,
                Some(match &self.key {
                    Some(key) => CardSummary::of(&number, exp_month, exp_year, key),
                    None => CardSummary::without_fingerprint(&number, exp_month, exp_year),
                }),
            )
        };
        let amount = amount(rng, market, payment_type)?;
        let vendor = VENDORS[rng.random_range(0..VENDORS.len())].to_owned();
        let address = address(rng, market);
        let account_id = AccountId::new(rng.random_range(1..=500));

        let (status, refunded_amount) = match rng.random_range(0..100u32) {
            0..93 => (PaymentStatus::Succeeded, 0),
            93..97 if amount.get() >= 2 => (
                PaymentStatus::PartiallyRefunded,
                rng.random_range(1..amount.get()),
            ),
            _ => (PaymentStatus::Refunded, amount.get()),
        };
        let later = match status {
            // Authorisation and capture take a moment.
            PaymentStatus::Succeeded => rng.random_range(150..=4_000),
            // Refunds come hours to weeks later.
            _ => rng.random_range(3_600_000..=14 * MS_PER_DAY),
        };
        let updated_at = created_at
            .saturating_add(later)
            .min(self.now.millis())
            .max(created_at);

        Some(Payment {
            id: PaymentId::new(),
            account_id,
            payment_type,
            method,
            card_type,
            card,
            amount,
            currency: market.currency,
            vendor,
            address,
            country: market.country,
            status,
            created_at: Timestamp::from_millis(created_at),
            updated_at: Timestamp::from_millis(updated_at),
            refunded_amount,
            failure: None,
            merchant: None,
        })
    }
}

/// Card brands in the proportions of a European/North American acquirer; wallets 10 %.
/// Weights are per mille.
const CARD_TYPE_WEIGHTS: [(CardType, u32); 10] = [
    (CardType::Visa, 450),
    (CardType::Mastercard, 300),
    (CardType::Amex, 80),
    (CardType::Discover, 20),
    (CardType::Jcb, 20),
    (CardType::Diners, 10),
    (CardType::Unionpay, 20),
    (CardType::Paypal, 50),
    (CardType::ApplePay, 35),
    (CardType::GooglePay, 15),
];

fn pick<'a, T>(rng: &mut impl Rng, items: &'a [T], weight: impl Fn(&T) -> u32) -> Option<&'a T> {
    let total: u32 = items.iter().map(&weight).sum();
    let mut ticket = rng.random_range(0..total.max(1));
    items.iter().find(|item| {
        let w = weight(item);
        if ticket < w {
            true
        } else {
            ticket -= w;
            false
        }
    })
}

/// A Luhn-valid number of the brand: an issuer prefix of the scheme, a length the scheme
/// issues, random account digits and the check digit. `None` only if the parser disagreed.
pub(crate) fn card_number(rng: &mut impl Rng, card_type: CardType) -> Option<CardNumber> {
    let (prefix, length): (String, usize) = match card_type {
        CardType::Visa => ("4".to_owned(), if rng.random_bool(0.97) { 16 } else { 19 }),
        CardType::Mastercard => {
            let prefix = if rng.random_bool(0.75) {
                rng.random_range(51..=55)
            } else {
                rng.random_range(2221..=2720)
            };
            (prefix.to_string(), 16)
        }
        CardType::Amex => (
            (if rng.random_bool(0.5) { "34" } else { "37" }).to_owned(),
            15,
        ),
        CardType::Discover => match rng.random_range(0..3) {
            0 => ("6011".to_owned(), 16),
            1 => (rng.random_range(644..=649).to_string(), 16),
            _ => ("65".to_owned(), 16),
        },
        CardType::Jcb => (rng.random_range(3528..=3589).to_string(), 16),
        CardType::Diners => match rng.random_range(0..3) {
            0 => ("36".to_owned(), 14),
            1 => (rng.random_range(300..=305).to_string(), 14),
            _ => (rng.random_range(38..=39).to_string(), 16),
        },
        // 62 outside 622126–622925 (those BINs are Discover's), or 81.
        CardType::Unionpay => {
            let prefix =
                ["620", "621", "623", "624", "625", "626", "628", "81"][rng.random_range(0..8)];
            (
                prefix.to_owned(),
                if rng.random_bool(0.8) { 16 } else { 19 },
            )
        }
        CardType::Paypal | CardType::ApplePay | CardType::GooglePay => return None,
    };
    let mut digits = prefix;
    while digits.len() < length - 1 {
        digits.push(char::from(b'0' + rng.random_range(0..10u8)));
    }
    digits.push(char::from(b'0' + luhn_check_digit(&digits)));
    CardNumber::parse(&digits)
        .ok()
        .filter(|number| number.brand() == card_type)
}

/// How addresses are written in a country.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Style {
    /// `12 Baker Street, London NW1 6XE`
    British,
    /// `742 Maple Ave, Austin, TX 73301`
    American,
    /// `Müllerstraße 12, 10115 Berlin` (`strasse` in Switzerland)
    German { swiss: bool },
    /// `12 rue Camille Dupont, 69001 Lyon`
    French,
    /// `Via Giulia Rossi 12, 20121 Milano`
    Italian,
    /// `Rua João Silva 12, 1100-148 Lisboa`
    Portuguese,
    /// `Calle de García 12, 28013 Madrid`
    Spanish,
    /// `Kerkstraat 12, 1017 GC Amsterdam`: a common street name of the country
    Listed(&'static [&'static str]),
    /// `2-14-7 Jingumae, Shibuya-ku, Tokyo 150-0001`
    Japanese,
}

/// A country payments come from: its currency, share, typical basket and address style.
struct MarketSpec {
    country: &'static str,
    currency: &'static str,
    /// Share of payments, per mille.
    weight: u32,
    /// Median payment in major units of the currency.
    median: f64,
    style: Style,
    cities: &'static [&'static str],
    /// `#` a digit, `A` a capital letter, anything else as is.
    postcode: &'static str,
}

const MARKETS: [MarketSpec; 21] = [
    MarketSpec {
        country: "GB",
        currency: "GBP",
        weight: 180,
        median: 32.0,
        style: Style::British,
        cities: &[
            "London",
            "Manchester",
            "Birmingham",
            "Leeds",
            "Glasgow",
            "Bristol",
            "Edinburgh",
        ],
        postcode: "AA# #AA",
    },
    MarketSpec {
        country: "US",
        currency: "USD",
        weight: 160,
        median: 45.0,
        style: Style::American,
        cities: &[
            "New York, NY",
            "Austin, TX",
            "Seattle, WA",
            "Chicago, IL",
            "Denver, CO",
            "Boston, MA",
            "San Diego, CA",
        ],
        postcode: "#####",
    },
    MarketSpec {
        country: "DE",
        currency: "EUR",
        weight: 120,
        median: 38.0,
        style: Style::German { swiss: false },
        cities: &[
            "Berlin",
            "Hamburg",
            "München",
            "Köln",
            "Frankfurt am Main",
            "Leipzig",
            "Stuttgart",
        ],
        postcode: "#####",
    },
    MarketSpec {
        country: "FR",
        currency: "EUR",
        weight: 90,
        median: 36.0,
        style: Style::French,
        cities: &[
            "Paris",
            "Lyon",
            "Marseille",
            "Toulouse",
            "Bordeaux",
            "Lille",
            "Nantes",
        ],
        postcode: "#####",
    },
    MarketSpec {
        country: "ES",
        currency: "EUR",
        weight: 50,
        median: 30.0,
        style: Style::Spanish,
        cities: &[
            "Madrid",
            "Barcelona",
            "Valencia",
            "Sevilla",
            "Bilbao",
            "Málaga",
        ],
        postcode: "#####",
    },
    MarketSpec {
        country: "IT",
        currency: "EUR",
        weight: 50,
        median: 34.0,
        style: Style::Italian,
        cities: &["Roma", "Milano", "Torino", "Napoli", "Bologna", "Firenze"],
        postcode: "#####",
    },
    MarketSpec {
        country: "NL",
        currency: "EUR",
        weight: 50,
        median: 35.0,
        style: Style::Listed(&[
            "Kerkstraat",
            "Dorpsstraat",
            "Stationsweg",
            "Molenweg",
            "Julianastraat",
            "Beatrixlaan",
            "Prinsengracht",
            "Keizersgracht",
        ]),
        cities: &[
            "Amsterdam",
            "Rotterdam",
            "Utrecht",
            "Den Haag",
            "Eindhoven",
            "Groningen",
        ],
        postcode: "#### AA",
    },
    MarketSpec {
        country: "IE",
        currency: "EUR",
        weight: 30,
        median: 38.0,
        style: Style::British,
        cities: &["Dublin", "Cork", "Galway", "Limerick", "Waterford"],
        postcode: "A## A#A#",
    },
    MarketSpec {
        country: "BE",
        currency: "EUR",
        weight: 20,
        median: 36.0,
        style: Style::French,
        cities: &["Bruxelles", "Liège", "Namur", "Charleroi", "Mons"],
        postcode: "####",
    },
    MarketSpec {
        country: "AT",
        currency: "EUR",
        weight: 20,
        median: 38.0,
        style: Style::German { swiss: false },
        cities: &["Wien", "Graz", "Linz", "Salzburg", "Innsbruck"],
        postcode: "####",
    },
    MarketSpec {
        country: "PT",
        currency: "EUR",
        weight: 20,
        median: 25.0,
        style: Style::Portuguese,
        cities: &["Lisboa", "Porto", "Braga", "Coimbra", "Faro"],
        postcode: "####-###",
    },
    MarketSpec {
        country: "CH",
        currency: "CHF",
        weight: 20,
        median: 55.0,
        style: Style::German { swiss: true },
        cities: &["Zürich", "Basel", "Bern", "Luzern", "St. Gallen"],
        postcode: "####",
    },
    MarketSpec {
        country: "SE",
        currency: "SEK",
        weight: 20,
        median: 420.0,
        style: Style::Listed(&[
            "Storgatan",
            "Drottninggatan",
            "Kungsgatan",
            "Skolgatan",
            "Järnvägsgatan",
            "Sveavägen",
        ]),
        cities: &["Stockholm", "Göteborg", "Malmö", "Uppsala", "Västerås"],
        postcode: "### ##",
    },
    MarketSpec {
        country: "NO",
        currency: "NOK",
        weight: 10,
        median: 450.0,
        style: Style::Listed(&[
            "Storgata",
            "Kirkegata",
            "Parkveien",
            "Skolegata",
            "Karl Johans gate",
            "Bygdøy allé",
        ]),
        cities: &["Oslo", "Bergen", "Trondheim", "Stavanger", "Tromsø"],
        postcode: "####",
    },
    MarketSpec {
        country: "DK",
        currency: "DKK",
        weight: 10,
        median: 300.0,
        style: Style::Listed(&[
            "Østergade",
            "Vestergade",
            "Nørregade",
            "Algade",
            "Jernbanegade",
            "Strandvejen",
        ]),
        cities: &["København", "Aarhus", "Odense", "Aalborg", "Esbjerg"],
        postcode: "####",
    },
    MarketSpec {
        country: "PL",
        currency: "PLN",
        weight: 20,
        median: 140.0,
        style: Style::Listed(&[
            "ul. Długa",
            "ul. Polna",
            "ul. Leśna",
            "ul. Słoneczna",
            "ul. Szkolna",
            "ul. Piękna",
        ]),
        cities: &["Warszawa", "Kraków", "Wrocław", "Gdańsk", "Poznań", "Łódź"],
        postcode: "##-###",
    },
    MarketSpec {
        country: "CA",
        currency: "CAD",
        weight: 40,
        median: 55.0,
        style: Style::American,
        cities: &[
            "Toronto, ON",
            "Vancouver, BC",
            "Montréal, QC",
            "Calgary, AB",
            "Ottawa, ON",
        ],
        postcode: "A#A #A#",
    },
    MarketSpec {
        country: "AU",
        currency: "AUD",
        weight: 40,
        median: 60.0,
        style: Style::British,
        cities: &[
            "Sydney NSW",
            "Melbourne VIC",
            "Brisbane QLD",
            "Perth WA",
            "Adelaide SA",
        ],
        postcode: "####",
    },
    MarketSpec {
        country: "NZ",
        currency: "NZD",
        weight: 10,
        median: 58.0,
        style: Style::British,
        cities: &[
            "Auckland",
            "Wellington",
            "Christchurch",
            "Hamilton",
            "Dunedin",
        ],
        postcode: "####",
    },
    MarketSpec {
        country: "JP",
        currency: "JPY",
        weight: 40,
        median: 4_800.0,
        style: Style::Japanese,
        cities: &[
            "Jingumae, Shibuya-ku, Tokyo",
            "Roppongi, Minato-ku, Tokyo",
            "Umeda, Kita-ku, Osaka",
            "Motomachi, Naka-ku, Yokohama",
            "Gion, Higashiyama-ku, Kyoto",
            "Tenjin, Chuo-ku, Fukuoka",
        ],
        postcode: "###-####",
    },
    MarketSpec {
        country: "SG",
        currency: "SGD",
        weight: 10,
        median: 50.0,
        style: Style::British,
        cities: &["Singapore"],
        postcode: "######",
    },
];

/// A [`MarketSpec`] with its codes parsed.
#[derive(Clone, Copy)]
struct Market {
    country: Country,
    currency: Currency,
    spec: &'static MarketSpec,
}

impl Market {
    fn all() -> Vec<Market> {
        MARKETS
            .iter()
            .filter_map(|spec| {
                Some(Market {
                    country: Country::parse(spec.country).ok()?,
                    currency: Currency::parse(spec.currency).ok()?,
                    spec,
                })
            })
            .collect()
    }
}

/// Log-normal around the market's median (σ = 0.9: most baskets between a third and three
/// times the median, a long tail of big ones), smaller in shops than online, with shop-like
/// price endings, in minor units of the currency.
fn amount(rng: &mut impl Rng, market: &Market, payment_type: PaymentType) -> Option<MinorUnits> {
    // Box–Muller: a standard normal from two uniforms; 1 - u avoids ln(0).
    let (u1, u2) = (1.0 - rng.random::<f64>(), rng.random::<f64>());
    let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
    let median = if payment_type == PaymentType::Offline {
        market.spec.median * 0.6
    } else {
        market.spec.median
    };
    let major =
        (median * (0.9 * z).exp()).clamp(market.spec.median / 60.0, market.spec.median * 250.0);
    let scale = 10f64.powi(i32::from(market.currency.exponent()));
    let mut minor = (major * scale).round() as u64;
    if market.currency.exponent() == 2 {
        minor = match rng.random_range(0..10u32) {
            0..4 => (minor / 100) * 100 + 99,   // 19.99
            4..6 => (minor / 100).max(1) * 100, // 20.00
            _ => minor,                         // 19.37
        };
    } else if market.currency.exponent() == 0 && minor >= 100 {
        minor = (minor / 10) * 10; // ¥4,870
    }
    MinorUnits::new(minor.clamp(1, MinorUnits::MAX)).ok()
}

/// A billing address in the country's style: street names from `fake`'s names of the
/// language, real cities, postcodes in the country's format.
fn address(rng: &mut ChaCha8Rng, market: &Market) -> String {
    let spec = market.spec;
    let city = spec.cities[rng.random_range(0..spec.cities.len())];
    let postcode: String = spec
        .postcode
        .chars()
        .map(|c| match c {
            '#' => char::from(b'0' + rng.random_range(0..10u8)),
            'A' => char::from(b'A' + rng.random_range(0..26u8)),
            other => other,
        })
        .collect();
    let number = rng.random_range(1..=180u32);
    let one_of = |rng: &mut ChaCha8Rng, options: &[&'static str]| {
        options[rng.random_range(0..options.len())]
    };
    match spec.style {
        Style::British => {
            let name: &str = if rng.random_bool(0.6) {
                LastName(EN).fake_with_rng(rng)
            } else {
                FirstName(EN).fake_with_rng(rng)
            };
            let kind = one_of(
                rng,
                &[
                    "Street", "Road", "Lane", "Avenue", "Close", "Drive", "Gardens", "Crescent",
                    "Way", "Place", "Terrace", "Grove",
                ],
            );
            format!("{number} {name} {kind}, {city} {postcode}")
        }
        Style::American => {
            let name: &str = if rng.random_bool(0.6) {
                LastName(EN).fake_with_rng(rng)
            } else {
                FirstName(EN).fake_with_rng(rng)
            };
            let kind = one_of(
                rng,
                &["St", "Ave", "Blvd", "Dr", "Ln", "Rd", "Way", "Ct", "Pl"],
            );
            let number = rng.random_range(100..=9_999u32);
            format!("{number} {name} {kind}, {city} {postcode}")
        }
        Style::German { swiss } => {
            let name: &str = LastName(DE_DE).fake_with_rng(rng);
            let street = if swiss { "strasse" } else { "straße" };
            let kind = one_of(
                rng,
                &[street, street, "weg", "gasse", "allee", "ring", "platz"],
            );
            format!("{name}{kind} {number}, {postcode} {city}")
        }
        Style::French => {
            let (first, last): (&str, &str) = (
                FirstName(FR_FR).fake_with_rng(rng),
                LastName(FR_FR).fake_with_rng(rng),
            );
            let kind = one_of(
                rng,
                &["rue", "rue", "avenue", "boulevard", "place", "allée"],
            );
            format!("{number} {kind} {first} {last}, {postcode} {city}")
        }
        Style::Italian => {
            let (first, last): (&str, &str) = (
                FirstName(IT_IT).fake_with_rng(rng),
                LastName(IT_IT).fake_with_rng(rng),
            );
            let kind = one_of(rng, &["Via", "Via", "Viale", "Corso", "Piazza"]);
            format!("{kind} {first} {last} {number}, {postcode} {city}")
        }
        Style::Portuguese => {
            let (first, last): (&str, &str) = (
                FirstName(PT_PT).fake_with_rng(rng),
                LastName(PT_PT).fake_with_rng(rng),
            );
            let kind = one_of(rng, &["Rua", "Rua", "Avenida", "Travessa", "Largo"]);
            format!("{kind} {first} {last} {number}, {postcode} {city}")
        }
        Style::Spanish => {
            let kind = one_of(
                rng,
                &["Calle de", "Calle de", "Avenida de", "Paseo de", "Plaza de"],
            );
            let name = one_of(
                rng,
                &[
                    "García",
                    "Fernández",
                    "González",
                    "Rodríguez",
                    "López",
                    "Martínez",
                    "Sánchez",
                    "Pérez",
                    "Gómez",
                    "Jiménez",
                    "Ruiz",
                    "Hernández",
                    "Díaz",
                    "Moreno",
                    "Álvarez",
                ],
            );
            format!("{kind} {name} {number}, {postcode} {city}")
        }
        Style::Listed(streets) => {
            let street = one_of(rng, streets);
            format!("{street} {number}, {postcode} {city}")
        }
        Style::Japanese => {
            let (chome, ban, go) = (
                rng.random_range(1..=7u8),
                rng.random_range(1..=30u8),
                rng.random_range(1..=20u8),
            );
            format!("{chome}-{ban}-{go} {city} {postcode}")
        }
    }
}

/// Merchants of every kind a payments platform serves.
const VENDORS: [&str; 40] = [
    "Northwind Books",
    "Blue Harbor Coffee",
    "Cedar & Pine Outfitters",
    "Brightline Electronics",
    "Urban Grocer",
    "Atlas Travel",
    "Silverline Rail",
    "Harbor Pharmacy",
    "Golden Crust Bakery",
    "Metro Cinemas",
    "Peak Fitness Club",
    "Lumen Home Furnishings",
    "Riverside Hardware",
    "SkyHigh Airways",
    "Green Leaf Market",
    "Nimbus Cloud Hosting",
    "Pixel Games Store",
    "Coastal Fuel",
    "Orchard Wine Merchants",
    "The Tailored Thread",
    "Velvet Beauty",
    "Sprout Kids",
    "Ironwood Auto Parts",
    "Cobalt Mobile",
    "Summit Outdoor Gear",
    "Maple Street Deli",
    "Starlight Hotels",
    "QuickCab",
    "Fresh Basket Delivery",
    "Aurora Music",
    "Paperleaf Stationery",
    "Bloom Florists",
    "Wanderlust Luggage",
    "Stellar Pet Supplies",
    "Oak & Barrel",
    "CityPark Parking",
    "Trailhead Bikes",
    "Bright Smile Dental",
    "Nordic Design House",
    "Streamly Subscriptions",
];

/// The UTC calendar year of `now`, for card expiry dates.
fn year_of(now: Timestamp) -> u16 {
    time::OffsetDateTime::from_unix_timestamp(now.millis().div_euclid(1000))
        .ok()
        .and_then(|t| u16::try_from(t.year()).ok())
        .unwrap_or(2030)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// 2024-06-01T12:00:00Z.
    const NOW: Timestamp = Timestamp::from_millis(1_717_243_200_000);

    fn key() -> FingerprintKey {
        FingerprintKey::new(b"test key".to_vec())
    }

    fn sample(seed: u64, count: u64, days: u32) -> Vec<Payment> {
        payments(seed, count, days, NOW, Some(key())).collect()
    }

    #[test]
    fn fingerprints_are_the_functions_own_or_none() {
        let cipher = payrail_shared::cards::CardCipher::from_secrets(
            &payrail_shared::secrets::SecretValue::new("k".repeat(40)),
            &[],
        );
        let Ok(cipher) = cipher else {
            unreachable!("a 40-character secret is long enough")
        };
        for payment in payments(4, 50, 30, NOW, Some(cipher.fingerprint_key())) {
            if let Some(card) = &payment.card {
                assert_eq!(card.fingerprint.len(), 32, "keyed as the API keys it");
            }
        }
        let unkeyed: Vec<Payment> = payments(4, 50, 30, NOW, None).collect();
        assert!(unkeyed.iter().any(|p| p.card.is_some()));
        assert!(
            unkeyed
                .iter()
                .filter_map(|p| p.card.as_ref())
                .all(|c| c.fingerprint.is_empty()),
            "no fingerprint under another key"
        );
    }

    #[test]
    fn every_card_type_gets_numbers_the_parser_accepts_as_that_brand() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for card_type in CardType::ALL.into_iter().filter(|t| !t.is_wallet()) {
            for _ in 0..2_000 {
                let number = card_number(&mut rng, card_type);
                assert_eq!(
                    number.as_ref().map(CardNumber::brand),
                    Some(card_type),
                    "{card_type}"
                );
            }
        }
    }

    #[test]
    fn card_numbers_have_the_prefix_and_length_of_their_scheme() {
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        for _ in 0..500 {
            let amex = card_number(&mut rng, CardType::Amex)
                .map(|n| n.expose().to_owned())
                .unwrap_or_default();
            assert!(
                amex.len() == 15 && (amex.starts_with("34") || amex.starts_with("37")),
                "amex {}",
                amex.len()
            );
            let mc = card_number(&mut rng, CardType::Mastercard)
                .map(|n| n.expose().to_owned())
                .unwrap_or_default();
            assert_eq!(mc.len(), 16);
            let visa = card_number(&mut rng, CardType::Visa)
                .map(|n| n.expose().to_owned())
                .unwrap_or_default();
            assert!(visa.starts_with('4') && (visa.len() == 16 || visa.len() == 19));
        }
    }

    #[test]
    fn wallets_get_no_card_number() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for wallet in CardType::ALL.into_iter().filter(CardType::is_wallet) {
            assert!(card_number(&mut rng, wallet).is_none());
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_payments_apart_from_ids() {
        let strip = |mut p: Payment| {
            p.id = PaymentId::from_uuid(uuid::Uuid::nil());
            p
        };
        let a: Vec<Payment> = sample(42, 500, 90).into_iter().map(strip).collect();
        let b: Vec<Payment> = sample(42, 500, 90).into_iter().map(strip).collect();
        assert_eq!(a, b);
        let c: Vec<Payment> = sample(43, 500, 90).into_iter().map(strip).collect();
        assert_ne!(a, c);
    }

    #[test]
    fn ids_differ_between_runs_with_the_same_seed() {
        let a = sample(42, 10, 90);
        let b = sample(42, 10, 90);
        assert!(a.iter().zip(&b).all(|(x, y)| x.id != y.id));
    }

    #[test]
    fn it_yields_exactly_count_payments() {
        assert_eq!(payments(9, 0, 90, NOW, Some(key())).count(), 0);
        assert_eq!(payments(9, 1, 90, NOW, Some(key())).count(), 1);
        assert_eq!(payments(9, 3_001, 90, NOW, Some(key())).count(), 3_001);
    }

    #[test]
    fn dates_lie_inside_the_window_never_in_the_future_and_newest_first() {
        for days in [1, 7, 90, 3650] {
            let start = NOW.millis() - i64::from(days) * MS_PER_DAY;
            let all = sample(days.into(), 2_000, days);
            for p in &all {
                assert!(
                    p.created_at.millis() >= start && p.created_at <= NOW,
                    "created_at {p:?}"
                );
                assert!(
                    p.updated_at >= p.created_at && p.updated_at <= NOW,
                    "updated_at {p:?}"
                );
            }
            assert!(all.windows(2).all(|w| w[0].created_at >= w[1].created_at));
        }
    }

    #[test]
    fn dates_spread_uniformly_over_the_days() {
        let all = sample(5, 20_000, 10);
        let mut per_day: HashMap<i64, u32> = HashMap::new();
        for p in &all {
            *per_day
                .entry((NOW.millis() - p.created_at.millis()) / MS_PER_DAY)
                .or_default() += 1;
        }
        assert_eq!(per_day.len(), 10);
        assert!(
            per_day.values().all(|n| (1_800..=2_200).contains(n)),
            "{per_day:?}"
        );
    }

    #[test]
    fn card_types_follow_the_weights() {
        let all = sample(11, 20_000, 90);
        let share = |pred: &dyn Fn(&Payment) -> bool| {
            all.iter().filter(|p| pred(p)).count() as f64 / all.len() as f64
        };
        let visa = share(&|p| p.card_type == CardType::Visa);
        let mastercard = share(&|p| p.card_type == CardType::Mastercard);
        let wallets = share(&|p| p.card_type.is_wallet());
        assert!((0.43..0.47).contains(&visa), "visa {visa}");
        assert!(
            (0.28..0.32).contains(&mastercard),
            "mastercard {mastercard}"
        );
        assert!((0.085..0.115).contains(&wallets), "wallets {wallets}");
        for t in CardType::ALL {
            assert!(all.iter().any(|p| p.card_type == t), "{t} never drawn");
        }
    }

    #[test]
    fn cards_carry_a_matching_summary_with_a_future_expiry_and_wallets_none() {
        for p in sample(12, 3_000, 90) {
            assert!(p.status.is_completed());
            match &p.card {
                None => {
                    assert!(p.card_type.is_wallet());
                    assert_eq!(p.method, PaymentMethod::Wallet);
                }
                Some(card) => {
                    assert!(!p.card_type.is_wallet());
                    assert_eq!(card.brand, p.card_type);
                    assert_ne!(p.method, PaymentMethod::Wallet);
                    assert!((1..=12).contains(&card.exp_month));
                    assert!(card.exp_year > 2024 && card.exp_year <= 2029);
                    assert!(
                        card.masked.starts_with(&card.bin) && card.masked.ends_with(&card.last4)
                    );
                    assert!(card.masked.contains('*'));
                    assert_eq!(CardType::from_bin(&card.bin), Some(p.card_type));
                }
            }
        }
    }

    #[test]
    fn currencies_match_countries_and_amounts_are_plausible() {
        let expected: HashMap<&str, &str> =
            MARKETS.iter().map(|m| (m.country, m.currency)).collect();
        assert_eq!(Market::all().len(), MARKETS.len(), "every market parses");
        for p in sample(13, 5_000, 90) {
            assert_eq!(
                expected.get(p.country.code()),
                Some(&p.currency.code()),
                "{p:?}"
            );
            let amount = p.amount.get();
            match p.currency.code() {
                "JPY" => assert!((80..=1_200_000).contains(&amount), "JPY {amount}"),
                "GBP" | "EUR" | "USD" => assert!((50..=1_500_000).contains(&amount), "{amount}"),
                _ => assert!(amount >= 1),
            }
        }
    }

    #[test]
    fn refunded_amounts_agree_with_the_status() {
        let all = sample(14, 5_000, 90);
        assert!(
            all.iter()
                .any(|p| p.status == PaymentStatus::PartiallyRefunded)
        );
        assert!(all.iter().any(|p| p.status == PaymentStatus::Refunded));
        let succeeded = all
            .iter()
            .filter(|p| p.status == PaymentStatus::Succeeded)
            .count();
        assert!(succeeded > 4_500, "mostly succeeded: {succeeded}");
        for p in all {
            match p.status {
                PaymentStatus::Succeeded => assert_eq!(p.refunded_amount, 0),
                PaymentStatus::PartiallyRefunded => {
                    assert!(p.refunded_amount > 0 && p.refunded_amount < p.amount.get())
                }
                PaymentStatus::Refunded => assert_eq!(p.refunded_amount, p.amount.get()),
                other => unreachable!("not completed: {other:?}"),
            }
        }
    }

    #[test]
    fn other_fields_look_real() {
        for p in sample(15, 1_000, 90) {
            assert!((1..=500).contains(&p.account_id.get()));
            assert!(VENDORS.contains(&p.vendor.as_str()));
            assert!(
                p.address.len() > 8 && p.address.chars().any(|c| c.is_ascii_digit()),
                "{}",
                p.address
            );
            assert!(p.failure.is_none());
        }
    }
}
