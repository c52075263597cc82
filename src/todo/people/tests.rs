//! How long renders wait for names, with a name source whose answers the test holds back
//! until it opens a gate. Budgets are an hour where a test shows that a request did *not*
//! wait: such a request can only have finished without the name while the gate is shut.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::watch;

use super::*;

const HOUR: Duration = Duration::from_secs(3600);
const SITE: SiteId = SiteId(7);

/// A site whose lookups answer once the gate is open (`Some("Name of <id>")`, or `None` when
/// `fails`), counting every lookup.
#[derive(Clone)]
struct GatedSite {
    calls: Arc<AtomicUsize>,
    gate: watch::Receiver<bool>,
    fails: bool,
}

impl GatedSite {
    fn new(open: bool) -> (Self, watch::Sender<bool>) {
        let (sender, gate) = watch::channel(open);
        let site = Self {
            calls: Arc::default(),
            gate,
            fails: false,
        };
        (site, sender)
    }

    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

impl NameSource for GatedSite {
    fn site(&self) -> SiteId {
        SITE
    }

    fn display_name(&self, account: String) -> impl Future<Output = Option<String>> + 'static {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let (mut gate, fails) = (self.gate.clone(), self.fails);
        async move {
            let _ = gate.wait_for(|open| *open).await;
            (!fails).then(|| format!("Name of {account}"))
        }
    }
}

/// Waits (runtime running) until `condition` holds; a hang guard, not a timing assertion.
async fn until(what: &str, condition: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        actix_web::rt::time::sleep(Duration::from_millis(1)).await;
    }
}

type Answers = Arc<Mutex<Vec<HashMap<String, String>>>>;

/// Starts one render per account list, each resolving its names on its own task.
fn renders(names: &Arc<DisplayNames>, site: &GatedSite, accounts: Vec<Vec<String>>) -> Answers {
    let answers: Answers = Arc::default();
    for list in accounts {
        let (names, site, answers) = (names.clone(), site.clone(), answers.clone());
        actix_web::rt::spawn(async move {
            let found = names.resolve(&site, list.iter().map(String::as_str)).await;
            answers.lock().unwrap().push(found);
        });
    }
    answers
}

fn count(answers: &Answers) -> usize {
    answers.lock().unwrap().len()
}

#[actix_web::test]
async fn ten_renders_needing_one_unknown_name_make_one_lookup_and_only_one_waits() {
    let names = Arc::new(DisplayNames::with_budget(HOUR));
    let (site, gate) = GatedSite::new(false);
    let answers = renders(&names, &site, vec![vec!["acct".into()]; 10]);

    until("nine renders", || count(&answers) == 9).await;
    until("the lookup", || site.calls() == 1).await;
    assert!(answers.lock().unwrap().iter().all(HashMap::is_empty));
    assert_eq!(count(&answers), 9, "the tenth waits for the held lookup");

    gate.send(true).unwrap();
    until("the waiting render", || count(&answers) == 10).await;
    let last = answers.lock().unwrap()[9].clone();
    assert_eq!(last["acct"], "Name of acct");
    let later = names.resolve(&site, ["acct"]).await;
    assert_eq!(later["acct"], "Name of acct");
    assert_eq!(site.calls(), 1, "one lookup in all");
}

#[actix_web::test]
async fn on_a_cold_site_one_render_waits_and_the_others_start_their_lookups() {
    let names = Arc::new(DisplayNames::with_budget(HOUR));
    let (site, gate) = GatedSite::new(false);
    let accounts: Vec<Vec<String>> = (0..10).map(|i| vec![format!("acct-{i}")]).collect();
    let answers = renders(&names, &site, accounts);

    until("nine renders", || count(&answers) == 9).await;
    until("ten lookups", || site.calls() == 10).await;
    assert!(answers.lock().unwrap().iter().all(HashMap::is_empty));
    assert_eq!(count(&answers), 9, "one render waits for its lookup");

    gate.send(true).unwrap();
    until("the waiting render", || count(&answers) == 10).await;
    assert_eq!(answers.lock().unwrap()[9].len(), 1);
    let all: Vec<String> = (0..10).map(|i| format!("acct-{i}")).collect();
    until("every name learnt", || {
        all.iter()
            .all(|a| matches!(names.names.peek(&(SITE, a.clone())), Peek::Ready(_)))
    })
    .await;
    let later = names.resolve(&site, all.iter().map(String::as_str)).await;
    assert_eq!(
        later.len(),
        10,
        "the lookups nobody waited for filled the cache"
    );
    assert_eq!(site.calls(), 10);
}

#[actix_web::test]
async fn a_site_that_used_up_the_budget_is_not_waited_for() {
    // A short budget, so that the first render gives up on the held lookup.
    let names = Arc::new(DisplayNames::with_budget(Duration::from_millis(20)));
    let (site, gate) = GatedSite::new(false);
    assert!(names.patience.would_wait(SITE));

    let first = names.resolve(&site, ["a"]).await;
    assert!(first.is_empty());
    assert!(!names.patience.would_wait(SITE), "the site is marked slow");

    let second = names.resolve(&site, ["b"]).await;
    assert!(second.is_empty());
    until("the second lookup", || site.calls() == 2).await;

    gate.send(true).unwrap();
    until("both names learnt", || {
        ["a", "b"]
            .iter()
            .all(|a| matches!(names.names.peek(&(SITE, a.to_string())), Peek::Ready(_)))
    })
    .await;
    assert_eq!(names.resolve(&site, ["a", "b"]).await.len(), 2);
    assert_eq!(site.calls(), 2);
}

#[actix_web::test]
async fn a_lookup_answered_in_time_makes_a_slow_site_worth_waiting_for_again() {
    let names = Arc::new(DisplayNames::with_budget(HOUR));
    let (site, _gate) = GatedSite::new(true);
    names.patience.too_slow(SITE);

    // Not waited for: the lookup runs in the background and answers at once.
    let first = names.resolve(&site, ["c"]).await;
    assert!(first.is_empty());
    until("the site to recover", || names.patience.would_wait(SITE)).await;

    let second = names.resolve(&site, ["d"]).await;
    assert_eq!(second["d"], "Name of d", "waited for, and answered");
}

#[actix_web::test]
async fn a_failed_lookup_is_remembered_and_shows_no_name() {
    let names = DisplayNames::with_budget(HOUR);
    let (mut site, _gate) = GatedSite::new(true);
    site.fails = true;
    assert!(names.resolve(&site, ["x"]).await.is_empty());
    assert!(names.resolve(&site, ["x", "x"]).await.is_empty());
    assert_eq!(site.calls(), 1, "the failure was remembered");
    assert!(
        names.patience.would_wait(SITE),
        "a quick failure costs no waiting"
    );
}

#[actix_web::test]
async fn an_abandoned_render_gives_its_turn_back_and_its_lookup_still_fills_the_cache() {
    let names = Arc::new(DisplayNames::with_budget(HOUR));
    let (site, gate) = GatedSite::new(false);
    let waiting = {
        let (names, site) = (names.clone(), site.clone());
        actix_web::rt::spawn(async move { names.resolve(&site, ["e"]).await })
    };
    until("the lookup", || site.calls() == 1).await;
    assert!(!names.patience.would_wait(SITE), "a request is waiting");

    waiting.abort();
    assert!(waiting.await.is_err(), "abandoned");
    assert!(names.patience.would_wait(SITE), "the turn was given back");

    gate.send(true).unwrap();
    until("the name", || {
        names.names.peek(&(SITE, "e".into())) == Peek::Ready(Ok("Name of e".into()))
    })
    .await;
    assert_eq!(site.calls(), 1);
}
