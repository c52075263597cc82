//! A token in a form field is verified like one in the header or the query.

use crate::harness::*;

#[actix_web::test]
async fn a_token_in_a_form_field_is_verified_like_any_other() {
    let app = spawn_app().await;
    let site = Site::new("formpost");
    site.install(&app).await;
    let post = |body: String, header: Option<String>| {
        let mut req = app
            .client
            .post(format!("{}/api/tasks", app.address))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body);
        if let Some(token) = header {
            req = req.header("Authorization", format!("JWT {token}"));
        }
        async move { req.send().await.unwrap().status().as_u16() }
    };
    let good = site.token("POST", "/api/tasks");
    let other = site.token("POST", "/api/tasks?x=1");
    // Verified, then refused by the handler for not being JSON: authentication passed.
    assert_eq!(post(format!("title=x&jwt={good}"), None).await, 400);
    // A forged or mismatching form token is an authentication failure.
    assert_eq!(post("title=x&jwt=not.a.token".into(), None).await, 401);
    assert_eq!(
        post(format!("jwt={other}"), None).await,
        401,
        "qsh of another URL"
    );
    // Form field and header must agree.
    assert_eq!(post(format!("jwt={good}"), Some(other.clone())).await, 401);
    assert_eq!(post(format!("jwt={good}"), Some(good.clone())).await, 400);
    let tasks: i64 = db(&app)
        .query_row("SELECT count(*) FROM tasks", (), |r| r.get(0))
        .unwrap();
    assert_eq!(tasks, 0);
}
