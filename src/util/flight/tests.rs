//! Tests of the single-flight cache: sharing, remembered failures, bounds, and serving a
//! known value while it is refreshed.

use super::*;
use std::sync::atomic::{AtomicUsize, Ordering};

fn counted(
    calls: &Arc<AtomicUsize>,
    result: Result<u32, String>,
    keep_for: Duration,
    delay: Duration,
) -> impl Future<Output = Loaded<u32, String>> + 'static {
    let calls = calls.clone();
    async move {
        calls.fetch_add(1, Ordering::SeqCst);
        actix_web::rt::time::sleep(delay).await;
        Loaded { result, keep_for }
    }
}

#[actix_web::test]
async fn concurrent_misses_share_one_load_and_later_calls_hit_the_cache() {
    let cache: FlightCache<&str, u32, String> = FlightCache::new(Cache::InstallKeys, 10);
    let calls = Arc::new(AtomicUsize::new(0));
    let hour = Duration::from_secs(3600);
    let loads = (0..10).map(|_| {
        cache.get(
            &"k",
            || counted(&calls, Ok(7), hour, Duration::from_millis(20)),
            "lost".into(),
        )
    });
    let results = futures_util::future::join_all(loads).await;
    assert!(results.iter().all(|r| *r == Ok(7)), "{results:?}");
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    let again = cache
        .get(
            &"k",
            || counted(&calls, Ok(8), hour, Duration::ZERO),
            "lost".into(),
        )
        .await;
    assert_eq!((again, calls.load(Ordering::SeqCst)), (Ok(7), 1));
    assert_eq!(cache.peek(&"k"), Peek::Ready(Ok(7)));
}

#[actix_web::test]
async fn a_failure_is_remembered_for_its_time_and_a_zero_time_is_not_kept() {
    let cache: FlightCache<&str, u32, String> = FlightCache::new(Cache::InstallKeys, 10);
    let calls = Arc::new(AtomicUsize::new(0));
    let fail = |keep| counted(&calls, Err("down".into()), keep, Duration::ZERO);
    let hour = Duration::from_secs(3600);
    assert_eq!(
        cache.get(&"k", || fail(hour), "lost".into()).await,
        Err("down".into())
    );
    assert_eq!(
        cache.get(&"k", || fail(hour), "lost".into()).await,
        Err("down".into())
    );
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "the failure was remembered"
    );
    let _ = cache
        .get(&"z", || fail(Duration::ZERO), "lost".into())
        .await;
    assert_eq!(cache.peek(&"z"), Peek::Missing, "not kept");
}

#[actix_web::test]
async fn a_caller_that_gives_up_does_not_cancel_the_load() {
    let cache: FlightCache<&str, u32, String> = FlightCache::new(Cache::InstallKeys, 10);
    let calls = Arc::new(AtomicUsize::new(0));
    let slow = || {
        counted(
            &calls,
            Ok(1),
            Duration::from_secs(60),
            Duration::from_millis(50),
        )
    };
    let early = cache
        .get_within(&"k", slow, "lost".into(), Duration::from_millis(1))
        .await;
    assert_eq!(early, None);
    assert_eq!(cache.peek(&"k"), Peek::Loading);
    let waited = cache
        .get(
            &"k",
            || counted(&calls, Ok(2), Duration::ZERO, Duration::ZERO),
            "lost".into(),
        )
        .await;
    assert_eq!(waited, Ok(1), "joined the first load");
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[actix_web::test]
async fn past_its_size_the_cache_drops_kept_results_not_loads() {
    let cache: FlightCache<u32, u32, String> = FlightCache::new(Cache::InstallKeys, 3);
    let calls = Arc::new(AtomicUsize::new(0));
    for key in 0..10 {
        let load = || counted(&calls, Ok(key), Duration::from_secs(60), Duration::ZERO);
        assert_eq!(cache.get(&key, load, "lost".into()).await, Ok(key));
    }
    assert!(cache.len() <= 3, "{}", cache.len());
}

#[actix_web::test]
async fn remembered_failures_are_dropped_before_a_good_value() {
    let cache: FlightCache<u32, u32, String> = FlightCache::new(Cache::InstallKeys, 3);
    let calls = Arc::new(AtomicUsize::new(0));
    let hour = Duration::from_secs(3600);
    let good = || counted(&calls, Ok(1), hour, Duration::ZERO);
    assert_eq!(cache.get(&0, good, "lost".into()).await, Ok(1));
    for key in 1..20 {
        let fail = || counted(&calls, Err("gone".into()), hour, Duration::ZERO);
        assert!(cache.get(&key, fail, "lost".into()).await.is_err());
    }
    assert_eq!(cache.peek(&0), Peek::Ready(Ok(1)), "the good value stayed");
}

type HeldLoad = std::pin::Pin<Box<dyn Future<Output = Loaded<u32, String>>>>;

/// A load that starts counted (when the cache asks for it) and answers only when `release`
/// is sent: a key server that is slow for as long as a test wants.
fn held(
    calls: &Arc<AtomicUsize>,
    result: Result<u32, String>,
    keep_for: Duration,
) -> (impl FnOnce() -> HeldLoad, tokio::sync::oneshot::Sender<()>) {
    let (release, released) = tokio::sync::oneshot::channel::<()>();
    let calls = calls.clone();
    let load = move || -> HeldLoad {
        calls.fetch_add(1, Ordering::SeqCst);
        Box::pin(async move {
            let _ = released.await;
            Loaded { result, keep_for }
        })
    };
    (load, release)
}

/// Waits until no load of `key` is under way (the background refresh settled).
async fn settled(cache: &FlightCache<&'static str, u32, String>, key: &'static str) {
    while cache.peek(&key) == Peek::Loading {
        actix_web::rt::time::sleep(Duration::from_millis(1)).await;
    }
}

fn stale_cache(max_age: Duration) -> FlightCache<&'static str, u32, String> {
    FlightCache::new(Cache::InstallKeys, 10).serving_stale(max_age, |e: &String| e == "gone")
}

/// Fills `k` with `value`, kept 1 ms, and waits until that time is past.
async fn known_past_its_time(cache: &FlightCache<&'static str, u32, String>, value: u32) {
    let calls = Arc::new(AtomicUsize::new(0));
    let load = || counted(&calls, Ok(value), Duration::from_millis(1), Duration::ZERO);
    assert_eq!(cache.get(&"k", load, "lost".into()).await, Ok(value));
    actix_web::rt::time::sleep(Duration::from_millis(5)).await;
    assert_eq!(cache.peek(&"k"), Peek::Missing, "past its time");
}

#[actix_web::test]
async fn a_known_value_past_its_time_is_answered_at_once_and_refreshed_once() {
    use futures_util::FutureExt;
    let cache = stale_cache(Duration::from_secs(3600));
    known_past_its_time(&cache, 1).await;
    let calls = Arc::new(AtomicUsize::new(0));
    let (load, release) = held(&calls, Ok(2), Duration::from_secs(60));
    // Answered without waiting for anything: the future is ready on its first poll.
    let first = cache.get(&"k", load, "lost".into()).now_or_never();
    assert_eq!(first, Some(Ok(1)));
    for _ in 0..10 {
        let (again, _unused) = held(&calls, Ok(3), Duration::from_secs(60));
        let answer = cache.get(&"k", again, "lost".into()).now_or_never();
        assert_eq!(answer, Some(Ok(1)), "served stale while the refresh runs");
    }
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "one refresh for all of them"
    );
    release.send(()).unwrap();
    settled(&cache, "k").await;
    assert_eq!(
        cache.peek(&"k"),
        Peek::Ready(Ok(2)),
        "the refresh filled the cache"
    );
}

#[actix_web::test]
async fn a_failed_refresh_keeps_the_value_until_its_maximum_age() {
    // Long enough for the steps before the last one on a loaded machine.
    let max_age = Duration::from_secs(2);
    let cache = stale_cache(max_age);
    known_past_its_time(&cache, 1).await;
    let calls = Arc::new(AtomicUsize::new(0));
    let down = || {
        counted(
            &calls,
            Err("down".into()),
            Duration::from_millis(1),
            Duration::ZERO,
        )
    };
    assert_eq!(cache.get(&"k", down, "lost".into()).await, Ok(1));
    settled(&cache, "k").await;
    actix_web::rt::time::sleep(Duration::from_millis(5)).await;
    assert_eq!(
        cache.get(&"k", down, "lost".into()).await,
        Ok(1),
        "still known"
    );
    settled(&cache, "k").await;
    assert_eq!(
        calls.load(Ordering::SeqCst),
        2,
        "each try after the last one's time"
    );
    actix_web::rt::time::sleep(max_age).await;
    assert_eq!(
        cache.get(&"k", down, "lost".into()).await,
        Err("down".into()),
        "too old to serve: the caller waits for the load and gets its failure"
    );
}

#[actix_web::test]
async fn a_refresh_the_server_answers_with_gone_drops_the_value() {
    let cache = stale_cache(Duration::from_secs(3600));
    known_past_its_time(&cache, 1).await;
    let calls = Arc::new(AtomicUsize::new(0));
    let gone = || {
        counted(
            &calls,
            Err("gone".into()),
            Duration::from_secs(60),
            Duration::ZERO,
        )
    };
    assert_eq!(cache.get(&"k", gone, "lost".into()).await, Ok(1));
    settled(&cache, "k").await;
    assert_eq!(cache.peek(&"k"), Peek::Ready(Err("gone".into())));
    assert_eq!(
        cache.get(&"k", gone, "lost".into()).await,
        Err("gone".into())
    );
}

#[actix_web::test]
async fn reload_waits_for_a_new_value_while_others_are_served_the_known_one() {
    use futures_util::FutureExt;
    let cache = stale_cache(Duration::from_secs(3600));
    let calls = Arc::new(AtomicUsize::new(0));
    let fresh = || counted(&calls, Ok(1), Duration::from_secs(3600), Duration::ZERO);
    assert_eq!(cache.get(&"k", fresh, "lost".into()).await, Ok(1));
    let (load, release) = held(&calls, Ok(2), Duration::from_secs(3600));
    let reloading = cache.reload(&"k", load, "lost".into());
    let (reloaded, served) = futures_util::future::join(reloading, async {
        let (unused, _keep) = held(&calls, Ok(9), Duration::ZERO);
        let served = cache.get(&"k", unused, "lost".into()).now_or_never();
        release.send(()).unwrap();
        served
    })
    .await;
    assert_eq!(served, Some(Ok(1)), "others are not held up by the reload");
    assert_eq!(reloaded, Ok(2));
    assert_eq!(
        calls.load(Ordering::SeqCst),
        2,
        "the first load and the reload"
    );
}

#[actix_web::test]
async fn a_cache_without_stale_serving_waits_for_the_load_past_the_time() {
    let cache: FlightCache<&str, u32, String> = FlightCache::new(Cache::InstallKeys, 10);
    let calls = Arc::new(AtomicUsize::new(0));
    let short = || counted(&calls, Ok(1), Duration::from_millis(1), Duration::ZERO);
    assert_eq!(cache.get(&"k", short, "lost".into()).await, Ok(1));
    actix_web::rt::time::sleep(Duration::from_millis(5)).await;
    let next = || counted(&calls, Ok(2), Duration::from_secs(60), Duration::ZERO);
    assert_eq!(cache.get(&"k", next, "lost".into()).await, Ok(2));
}
