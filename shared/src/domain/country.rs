//! ISO 3166-1 alpha-2 countries; `UK` is accepted everywhere as an alias of `GB`.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The 249 officially assigned ISO 3166-1 alpha-2 codes.
const CODES: &str = "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL \
BM BN BO BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK \
DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU \
GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ \
LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY \
MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU \
RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO \
TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW";

/// An ISO 3166-1 alpha-2 country code, upper case, canonical (`GB`, never `UK`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Country([u8; 2]);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("must be an ISO 3166-1 alpha-2 country code in upper case, such as GB, DE or US")]
pub struct InvalidCountry;

impl Country {
    pub fn parse(code: &str) -> Result<Self, InvalidCountry> {
        let code = if code == "UK" { "GB" } else { code };
        let bytes: [u8; 2] = code.as_bytes().try_into().map_err(|_| InvalidCountry)?;
        let listed = CODES.split(' ').any(|c| c.as_bytes() == bytes);
        if listed {
            Ok(Country(bytes))
        } else {
            Err(InvalidCountry)
        }
    }

    pub fn code(&self) -> &str {
        // Both bytes come from CODES, which is ASCII.
        std::str::from_utf8(&self.0).unwrap_or("??")
    }
}

impl TryFrom<String> for Country {
    type Error = InvalidCountry;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Country::parse(&value)
    }
}

impl From<Country> for String {
    fn from(value: Country) -> Self {
        value.code().to_owned()
    }
}

impl fmt::Display for Country {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl fmt::Debug for Country {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_uk_as_an_alias_of_gb() {
        assert_eq!(Country::parse("UK"), Country::parse("GB"));
        assert_eq!(
            Country::parse("UK").map(|c| c.to_string()),
            Ok("GB".to_owned())
        );
    }

    #[test]
    fn lists_every_assigned_code_once() {
        let codes: Vec<&str> = CODES.split(' ').collect();
        let mut unique = codes.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(codes.len(), 249);
        assert_eq!(unique.len(), 249);
    }

    #[test]
    fn rejects_lower_case_unknown_and_wrong_length_codes() {
        for bad in ["gb", "XX", "G", "GBR", "", "É"] {
            assert_eq!(Country::parse(bad), Err(InvalidCountry), "{bad}");
        }
    }

    proptest! {
        #[test]
        fn parsed_countries_round_trip(code in "[A-Z]{2}") {
            if let Ok(country) = Country::parse(&code) {
                let expected = if code == "UK" { "GB".to_owned() } else { code.clone() };
                prop_assert_eq!(country.to_string(), expected);
            }
        }
    }
}
