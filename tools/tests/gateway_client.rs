//! The gateway client against the simulator over real TCP: every outcome of SPEC §5.

mod support;

use payrail_shared::domain::card::CardNumber;
use payrail_shared::domain::ids::{AccountId, PaymentId};
use payrail_shared::domain::money::MinorUnits;
use payrail_shared::domain::payment::PaymentType;
use payrail_shared::gateway::{
    ChargeOutcome, ChargeRequest, GatewayClient, RefundOutcome, RefundRequest, Rejection, Timeouts,
    TransientKind,
};
use payrail_tools::simulator::{Behaviour, FailureKind, Outcome};
use std::time::Duration;
use support::{Sim, TestResult, always};

const VISA: &str = "4111111111111111";

fn client(sim: &Sim) -> Result<GatewayClient, Box<dyn std::error::Error>> {
    let timeouts = Timeouts {
        connect: Duration::from_millis(500),
        request: Duration::from_millis(500),
    };
    Ok(GatewayClient::new(&sim.url, timeouts)?)
}

fn charge(amount: u64) -> Result<ChargeRequest, Box<dyn std::error::Error>> {
    Ok(ChargeRequest {
        payment_id: PaymentId::new(),
        account_id: AccountId::new(7),
        payment_type: PaymentType::Online,
        credit_card: CardNumber::parse(VISA)?.into(),
        amount: MinorUnits::new(amount)?,
    })
}

fn transient_kind(outcome: &ChargeOutcome) -> Option<TransientKind> {
    match outcome {
        ChargeOutcome::Transient(failure) | ChargeOutcome::Unanswered(failure) => {
            Some(failure.kind)
        }
        ChargeOutcome::Approved | ChargeOutcome::Declined(_) => None,
    }
}

/// Nothing a caller could print or log about an outcome shows the card number.
fn assert_no_card_number(outcome: &ChargeOutcome, payment_id: PaymentId) {
    let mut printed = format!("{outcome:?}");
    if let ChargeOutcome::Transient(failure) | ChargeOutcome::Unanswered(failure) = outcome {
        printed.push_str(&failure.to_string());
    }
    if let Some(entry) = outcome.log_entry(payment_id) {
        printed.push_str(&format!("{entry:?}"));
    }
    if let Some(failure) = outcome.failure() {
        printed.push_str(&failure.message);
    }
    assert!(!printed.contains(VISA), "{printed}");
}

#[tokio::test]
async fn approves_and_passes_the_payment_id_and_card_through() -> TestResult {
    let sim = Sim::start(Behaviour::default()).await?;
    let request = charge(1250)?;
    let outcome = client(&sim)?.charge(&request).await;
    assert_eq!(outcome, ChargeOutcome::Approved);
    let charges = sim.charges();
    assert_eq!(charges.len(), 1);
    let recorded = charges.first();
    assert_eq!(
        recorded.map(|c| (c.payment_id.clone(), c.amount, c.last4.as_str())),
        Some((request.payment_id.to_string(), 1250, "1111"))
    );
    Ok(())
}

#[tokio::test]
async fn a_repeated_charge_is_deduplicated_on_the_payment_id() -> TestResult {
    let sim = Sim::start(Behaviour::default()).await?;
    let (gateway, request) = (client(&sim)?, charge(990)?);
    for _ in 0..3 {
        assert_eq!(gateway.charge(&request).await, ChargeOutcome::Approved);
    }
    let charges = sim.charges();
    assert_eq!(
        charges
            .iter()
            .map(|c| (c.attempts, c.duplicates))
            .collect::<Vec<_>>(),
        [(3, 2)]
    );
    Ok(())
}

#[tokio::test]
async fn a_decline_is_final_with_its_status_and_reason() -> TestResult {
    let sim = Sim::start(Behaviour {
        decline_rate: 1.0,
        ..Behaviour::default()
    })
    .await?;
    let request = charge(500)?;
    let outcome = client(&sim)?.charge(&request).await;
    assert_eq!(
        outcome,
        ChargeOutcome::Declined(Rejection {
            status: 402,
            reason: Some("card declined".to_owned())
        })
    );
    assert!(outcome.is_final());
    assert_no_card_number(&outcome, request.payment_id);
    Ok(())
}

#[tokio::test]
async fn each_failure_kind_is_transient_with_its_kind_and_charges_nothing() -> TestResult {
    let sim = Sim::start(Behaviour::default()).await?;
    let gateway = client(&sim)?;
    let request = charge(1000)?;
    let cases = [
        (FailureKind::ServerError, TransientKind::ServerError(503)),
        (FailureKind::Throttle, TransientKind::Throttled),
        (FailureKind::Timeout, TransientKind::Timeout),
        (FailureKind::Reset, TransientKind::Reset),
    ];
    for (failure, expected) in cases {
        sim.set(&always(failure, 3_000)).await?;
        let outcome = gateway.charge(&request).await;
        assert_eq!(
            transient_kind(&outcome),
            Some(expected),
            "{failure:?}: {outcome:?}"
        );
        assert!(!outcome.is_final());
        assert_no_card_number(&outcome, request.payment_id);
    }
    assert_eq!(
        sim.charges().iter().map(|c| c.outcome).collect::<Vec<_>>(),
        [Outcome::Pending]
    );

    // The gateway recovers: the retry of the same payment is charged, once.
    sim.set(&Behaviour::default()).await?;
    assert_eq!(gateway.charge(&request).await, ChargeOutcome::Approved);
    assert_eq!(
        sim.charges().iter().map(|c| c.outcome).collect::<Vec<_>>(),
        [Outcome::Succeeded]
    );
    Ok(())
}

/// The simulator charges, then times out or drops the connection: the client cannot know it
/// charged, and says so (`Unanswered`); the re-send is answered from the gateway's record.
#[tokio::test]
async fn a_charge_lost_after_the_request_is_unanswered_and_its_retry_is_not_charged_again()
-> TestResult {
    let sim = Sim::start(Behaviour::default()).await?;
    let gateway = client(&sim)?;
    for (failure, expected) in [
        (FailureKind::ChargedTimeout, TransientKind::Timeout),
        (FailureKind::ChargedReset, TransientKind::Reset),
    ] {
        let request = charge(700)?;
        sim.set(&always(failure, 3_000)).await?;
        let outcome = gateway.charge(&request).await;
        assert!(
            matches!(&outcome, ChargeOutcome::Unanswered(f) if f.kind == expected),
            "{failure:?}: {outcome:?}"
        );
        assert_no_card_number(&outcome, request.payment_id);
        let mine = |sim: &Sim| {
            sim.charges()
                .into_iter()
                .find(|c| c.payment_id == request.payment_id.to_string())
                .map(|c| (c.outcome, c.attempts, c.duplicates))
        };
        assert_eq!(mine(&sim), Some((Outcome::Succeeded, 1, 0)), "{failure:?}");

        sim.set(&Behaviour::default()).await?;
        assert_eq!(gateway.charge(&request).await, ChargeOutcome::Approved);
        assert_eq!(mine(&sim), Some((Outcome::Succeeded, 2, 1)), "{failure:?}");
    }
    Ok(())
}

#[tokio::test]
async fn a_refused_connection_is_transient_and_not_unanswered() -> TestResult {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let url = format!("http://{}", listener.local_addr()?);
    drop(listener);
    let gateway = GatewayClient::new(&url, Timeouts::DEFAULT)?;
    let request = charge(100)?;
    let outcome = gateway.charge(&request).await;
    assert_eq!(transient_kind(&outcome), Some(TransientKind::NotSent));
    let ChargeOutcome::Transient(failure) = &outcome else {
        unreachable!("nothing was sent: not unanswered, {outcome:?}")
    };
    assert!(!failure.detail.contains(&url), "no URL: {}", failure.detail);
    assert_no_card_number(&outcome, request.payment_id);
    Ok(())
}

/// A gateway that echoes the request in its error: the card number must not come back out.
#[tokio::test]
async fn a_gateway_echoing_the_card_number_cannot_leak_it() -> TestResult {
    let echo = axum::Router::new().route(
        "/payment",
        axum::routing::post(|body: String| async move {
            (
                axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                format!("bad request: {body}"),
            )
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, echo).await });
    let request = charge(100)?;
    let outcome = GatewayClient::new(&url, Timeouts::DEFAULT)?
        .charge(&request)
        .await;
    let ChargeOutcome::Declined(rejection) = &outcome else {
        unreachable!("422 is a decline: {outcome:?}")
    };
    assert_eq!(rejection.status, 422);
    assert!(
        rejection
            .reason
            .as_deref()
            .is_some_and(|r| r.contains("[redacted]")),
        "{rejection:?}"
    );
    assert_no_card_number(&outcome, request.payment_id);
    Ok(())
}

#[tokio::test]
async fn refunds_are_refunded_deduplicated_or_rejected() -> TestResult {
    let sim = Sim::start(Behaviour::default()).await?;
    let gateway = client(&sim)?;
    let paid = charge(1000)?;
    assert_eq!(gateway.charge(&paid).await, ChargeOutcome::Approved);
    let refund =
        |amount: u64, payment_id: PaymentId| -> Result<RefundRequest, Box<dyn std::error::Error>> {
            Ok(RefundRequest {
                payment_id,
                refund_id: uuid::Uuid::new_v4(),
                amount: MinorUnits::new(amount)?,
            })
        };
    let first = refund(600, paid.payment_id)?;
    assert_eq!(gateway.refund(&first).await, RefundOutcome::Refunded);
    assert_eq!(
        gateway.refund(&first).await,
        RefundOutcome::Refunded,
        "a repeat is answered from the record"
    );
    let over = gateway.refund(&refund(401, paid.payment_id)?).await;
    assert!(
        matches!(over, RefundOutcome::Rejected(Rejection { status: 409, .. })),
        "{over:?}"
    );
    let unknown = gateway.refund(&refund(1, PaymentId::new())?).await;
    assert!(
        matches!(
            unknown,
            RefundOutcome::Rejected(Rejection { status: 404, .. })
        ),
        "{unknown:?}"
    );
    assert_eq!(sim.charges().first().map(|c| c.refunded), Some(600));

    sim.set(&always(FailureKind::Throttle, 0)).await?;
    let throttled = gateway.refund(&refund(100, paid.payment_id)?).await;
    assert!(!throttled.is_final(), "{throttled:?}");
    Ok(())
}

/// A gateway that echoes a wallet token in its error: the token must not come back out.
#[tokio::test]
async fn a_gateway_echoing_the_wallet_token_cannot_leak_it() -> TestResult {
    const TOKEN: &str = "wtk_live_Qm9vayBvZiBCYW5r";
    let echo = axum::Router::new().route(
        "/payment",
        axum::routing::post(|body: String| async move {
            let token: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
            let token = token["credit_card"].as_str().unwrap_or_default().to_owned();
            (
                axum::http::StatusCode::PAYMENT_REQUIRED,
                axum::Json(serde_json::json!({"reason": format!("token {token} is revoked")})),
            )
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, echo).await });
    let request = ChargeRequest {
        credit_card: payrail_shared::gateway::Charged::Wallet(
            payrail_shared::payments::request::WalletToken::new(TOKEN.to_owned()),
        ),
        ..charge(100)?
    };
    let outcome = GatewayClient::new(&url, Timeouts::DEFAULT)?
        .charge(&request)
        .await;
    let ChargeOutcome::Declined(rejection) = &outcome else {
        unreachable!("402 is a decline: {outcome:?}")
    };
    assert_eq!(
        rejection.reason.as_deref(),
        Some("token [redacted] is revoked")
    );
    let mut printed = format!("{outcome:?}");
    if let Some(entry) = outcome.log_entry(request.payment_id) {
        printed.push_str(entry.error_description());
    }
    if let Some(failure) = outcome.failure() {
        printed.push_str(&failure.message);
    }
    assert!(!printed.contains(TOKEN), "{printed}");
    Ok(())
}
