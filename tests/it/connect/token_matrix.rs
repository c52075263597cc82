//! The token matrix: every kind of bad, misplaced or valid token on an iframe route and on
//! an API route, each with its exact status, challenge and error content type.

use jsonwebtoken::Algorithm;
use reqwest::Method;
use serde_json::{Value, json};

use super::{REALM, alg_none, create_task, send, toggle, with, without};
use crate::harness::*;

/// One request of the matrix: the token(s) it carries and the status it must get.
struct Case {
    name: &'static str,
    header: Option<String>,
    param: Option<String>,
    status: u16,
}

impl Case {
    fn header(name: &'static str, token: String, status: u16) -> Self {
        Self {
            name,
            header: Some(token),
            param: None,
            status,
        }
    }
}

struct Matrix {
    app: TestApp,
    alpha: Site,
    uninstalled: Site,
    disabled: Site,
    task_id: i64,
}

async fn matrix_fixture() -> Matrix {
    let app = spawn_app().await;
    let (alpha, uninstalled, disabled) =
        (Site::new("alpha"), Site::new("gone"), Site::new("sleeping"));
    for site in [&alpha, &uninstalled, &disabled] {
        site.install(&app).await;
    }
    let task_id = create_task(&app, &alpha, "Matrix task").await;
    assert_eq!(
        uninstalled
            .post_lifecycle(&app, "uninstalled", &uninstalled.payload())
            .await,
        204
    );
    assert_eq!(toggle(&app, &disabled, "disabled").await, 204);
    Matrix {
        app,
        alpha,
        uninstalled,
        disabled,
        task_id,
    }
}

/// Every case for `GET path_and_query`; `context_status` is what a context token gets there.
fn matrix_cases(
    m: &Matrix,
    path_and_query: &str,
    other_url: &str,
    context_status: u16,
) -> Vec<Case> {
    let mut cases = vec![Case {
        name: "no token",
        header: None,
        param: None,
        status: 401,
    }];
    cases.extend(forged_cases(m, path_and_query));
    cases.extend(claim_cases(m, path_and_query, other_url, context_status));
    cases.extend(site_cases(m, path_and_query));
    cases.extend(placement_cases(m, path_and_query));
    cases
}

/// Not a token, or not signed the one accepted way (HS256 with the site's secret).
fn forged_cases(m: &Matrix, path_and_query: &str) -> Vec<Case> {
    let claims = m.alpha.claims("GET", path_and_query);
    let secret = m.alpha.secret.as_str();
    let rs256 = Site::rs256(
        &with(claims.clone(), "aud", json!(SITE_URL)),
        Some(INSTALL_KID),
    );
    vec![
        Case::header("garbage", "not-a-jwt".into(), 401),
        Case::header("three garbage segments", "a.b.c".into(), 401),
        Case::header("alg none", alg_none(&claims), 401),
        Case::header("HS384", hs256_with(&claims, secret, Algorithm::HS384), 401),
        Case::header("HS512", hs256_with(&claims, secret, Algorithm::HS512), 401),
        Case::header("RS256 signed with the install key", rs256, 401),
        Case::header(
            "wrong secret",
            hs256_with(&claims, "not-the-secret", Algorithm::HS256),
            401,
        ),
    ]
}

/// Signed correctly, with a claim that is wrong, missing or meant for another request.
fn claim_cases(
    m: &Matrix,
    path_and_query: &str,
    other_url: &str,
    context_status: u16,
) -> Vec<Case> {
    let claims = m.alpha.claims("GET", path_and_query);
    let hs = |c: &Value| m.alpha.hs256(c);
    let oversized = hs(&with(claims.clone(), "pad", json!("x".repeat(9 * 1024))));
    assert!(oversized.len() > 8 * 1024);
    vec![
        Case::header(
            "expired",
            hs(&with(claims.clone(), "exp", json!(now() - 120))),
            401,
        ),
        Case::header("missing exp", hs(&without(claims.clone(), "exp")), 401),
        Case::header("missing qsh", hs(&without(claims.clone(), "qsh")), 401),
        Case::header(
            "qsh of another URL",
            hs(&m.alpha.claims("GET", other_url)),
            401,
        ),
        Case::header(
            "qsh of another method",
            hs(&m.alpha.claims("POST", path_and_query)),
            401,
        ),
        Case::header(
            "context-qsh",
            m.alpha.context_token("account-1"),
            context_status,
        ),
        Case::header("oversized token", oversized, 401),
    ]
}

/// Valid tokens of sites that may not make requests: unknown, uninstalled, disabled.
fn site_cases(m: &Matrix, path_and_query: &str) -> Vec<Case> {
    let stranger = Site::new("stranger");
    vec![
        Case::header("unknown iss", stranger.token("GET", path_and_query), 401),
        Case::header(
            "uninstalled site",
            m.uninstalled.token("GET", path_and_query),
            401,
        ),
        Case::header(
            "disabled site",
            m.disabled.token("GET", path_and_query),
            401,
        ),
    ]
}

/// Where the token travels: header, `jwt` parameter, both, or two that disagree.
fn placement_cases(m: &Matrix, path_and_query: &str) -> Vec<Case> {
    let claims = m.alpha.claims("GET", path_and_query);
    let valid = m.alpha.hs256(&claims);
    let twin = m.alpha.hs256(&with(claims, "jti", json!("another-token")));
    vec![
        Case {
            name: "header and parameter disagreeing",
            header: Some(valid.clone()),
            param: Some(twin.clone()),
            status: 401,
        },
        Case {
            name: "two different jwt parameters",
            header: None,
            param: Some(format!("{valid}&jwt={twin}")),
            status: 401,
        },
        Case {
            name: "the same token in header and parameter",
            header: Some(valid.clone()),
            param: Some(valid.clone()),
            status: 200,
        },
        Case::header("valid in the header", valid.clone(), 200),
        Case {
            name: "valid in the jwt parameter",
            header: None,
            param: Some(valid),
            status: 200,
        },
    ]
}

async fn run_matrix(m: &Matrix, path_and_query: &str, cases: Vec<Case>, error_type: &str) {
    let mut failures = Vec::new();
    for case in cases {
        let res = send(
            &m.app,
            Method::GET,
            path_and_query,
            case.header.as_deref(),
            case.param.as_deref(),
            None,
        )
        .await;
        let status = res.status().as_u16();
        let challenge = res
            .headers()
            .get("www-authenticate")
            .map(|v| v.to_str().unwrap().to_string());
        let content_type = res
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        if status != case.status {
            failures.push(format!("{}: {status}, expected {}", case.name, case.status));
        } else if status == 401 && challenge.as_deref() != Some(REALM) {
            failures.push(format!("{}: WWW-Authenticate {challenge:?}", case.name));
        } else if status == 401 && !content_type.starts_with(error_type) {
            failures.push(format!("{}: content type {content_type}", case.name));
        }
    }
    assert!(
        failures.is_empty(),
        "{path_and_query}:\n{}",
        failures.join("\n")
    );
}

#[actix_web::test]
async fn every_token_of_the_matrix_gets_its_status_on_an_iframe_route() {
    let m = matrix_fixture().await;
    let page = format!("/confluence/get_task?id={}", m.task_id);
    let other = format!("/confluence/get_task?id={}", m.task_id + 1);
    let cases = matrix_cases(&m, &page, &other, 401);
    run_matrix(&m, &page, cases, "text/html").await;
}

#[actix_web::test]
async fn every_token_of_the_matrix_gets_its_status_on_an_api_route() {
    let m = matrix_fixture().await;
    let cases = matrix_cases(&m, "/api/tasks", "/api/tasks?done=true", 200);
    run_matrix(&m, "/api/tasks", cases, "application/json").await;
}

#[actix_web::test]
async fn the_jwt_parameter_is_not_part_of_the_qsh_on_an_iframe_route() {
    let m = matrix_fixture().await;
    // Confluence appends jwt in the middle of its own parameters.
    let pq = format!(
        "/confluence/get_task?xdm_e=https%3A%2F%2Falpha.atlassian.net&id={}&cp=%2Fwiki&lic=none",
        m.task_id
    );
    let token = m.alpha.token("GET", &pq);
    let (before, after) = pq.split_once("&cp=").unwrap();
    let url = format!("{before}&jwt={token}&cp={after}");
    let res = send(&m.app, Method::GET, &url, None, None, None).await;
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().contains("Matrix task"));
}
