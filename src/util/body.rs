//! Reading a body (a request payload, or a response from a server we called) into memory up
//! to a cap and within a deadline: the only place such a loop is written. A declared
//! `Content-Length` over the cap is refused before a byte is read; a body that has not
//! arrived whole by the deadline is abandoned, however steadily its bytes trickle in (the
//! server's own timeout covers only the request head).

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_util::{Stream, StreamExt};

/// Why a body could not be read.
#[derive(Debug, thiserror::Error)]
pub(crate) enum BodyError<E> {
    /// Declared or actual size above the cap.
    #[error("body larger than {0} bytes")]
    TooLarge(usize),
    /// The whole body did not arrive within the deadline.
    #[error("body not complete within {0:?}")]
    TimedOut(Duration),
    /// The stream failed (connection reset, timeout, malformed chunk).
    #[error("could not read the body: {0}")]
    Read(E),
}

/// Collects `stream` into one buffer, failing with [`BodyError::TooLarge`] as soon as more
/// than `cap` bytes arrive (or when `declared` already says so), and with
/// [`BodyError::TimedOut`] when the whole body has not arrived within `deadline`.
pub(crate) async fn read_capped<S, E>(
    stream: S,
    declared: Option<u64>,
    cap: usize,
    deadline: Duration,
) -> Result<Bytes, BodyError<E>>
where
    S: Stream<Item = Result<Bytes, E>>,
{
    if declared.is_some_and(|len| len > cap as u64) {
        return Err(BodyError::TooLarge(cap));
    }
    actix_web::rt::time::timeout(deadline, collect(stream, cap))
        .await
        .unwrap_or(Err(BodyError::TimedOut(deadline)))
}

async fn collect<S, E>(stream: S, cap: usize) -> Result<Bytes, BodyError<E>>
where
    S: Stream<Item = Result<Bytes, E>>,
{
    let mut stream = std::pin::pin!(stream);
    let mut body = BytesMut::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(BodyError::Read)?;
        if body.len() + chunk.len() > cap {
            return Err(BodyError::TooLarge(cap));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::stream;

    fn chunks(parts: &[&'static [u8]]) -> impl Stream<Item = Result<Bytes, ()>> {
        stream::iter(
            parts
                .iter()
                .map(|p| Ok(Bytes::from_static(p)))
                .collect::<Vec<_>>(),
        )
    }

    const PATIENT: Duration = Duration::from_secs(60);

    #[actix_web::test]
    async fn a_body_up_to_the_cap_is_read_whole() {
        let body = read_capped(chunks(&[b"ab", b"cd"]), None, 4, PATIENT)
            .await
            .unwrap();
        assert_eq!(&body[..], b"abcd");
    }

    #[actix_web::test]
    async fn one_byte_over_the_cap_or_a_large_declared_length_is_refused() {
        let over = read_capped(chunks(&[b"ab", b"cde"]), None, 4, PATIENT).await;
        assert!(matches!(over, Err(BodyError::TooLarge(4))));
        let declared = read_capped(chunks(&[]), Some(5), 4, PATIENT).await;
        assert!(matches!(declared, Err(BodyError::TooLarge(4))));
    }

    #[actix_web::test]
    async fn a_body_still_arriving_at_the_deadline_is_abandoned() {
        // One byte, then nothing more: a client that never finishes.
        let trickle =
            stream::iter([Ok::<_, ()>(Bytes::from_static(b"a"))]).chain(stream::pending());
        let deadline = Duration::from_millis(20);
        let read = read_capped(trickle, None, 1024, deadline).await;
        assert!(matches!(read, Err(BodyError::TimedOut(d)) if d == deadline));
    }
}
