//! The gateway's page tokens, around the services' keyset tokens. A service's token only
//! leads forward; the gateway's token also carries the page's offset, the service token
//! where the page starts and, when known, the one where the previous page starts, and a
//! fingerprint of the filters. So every page answers `offset`, `next_page_token` and
//! `prev_page_token`, and a shared link with a token opens the same page with a working
//! "Previous". Going back from a page reached by "Next" is one call; going back from a
//! page opened by a link (where the previous page's service token is unknown) pages
//! through the service from the start, 1,000 records a call, to the previous page's offset.

use std::future::Future;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::error::HttpError;

/// The largest page the services serve, used to skip forward.
const SKIP_CHUNK: u64 = 1000;

/// A stable fingerprint (FNV-1a) of a list's filters and sort, so a token is refused with
/// other filters instead of opening an unrelated page.
pub fn fingerprint(filters: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in filters.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

/// Where a requested page starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paging {
    /// How many records come before the page.
    pub offset: u64,
    /// The service token where the page starts (`""` at offset 0), when known.
    start: Option<String>,
    /// The offset and service token of the previous page, when known.
    previous: Option<(u64, String)>,
    fingerprint: u64,
}

fn invalid(parameter: &str) -> HttpError {
    HttpError::bad_parameter(
        parameter,
        "is not a page token of this list (tokens are valid only with the same filters and sort)",
    )
}

impl Paging {
    /// The first page, or the page `token` names; `parameter` names the token in errors.
    pub fn parse(
        parameter: &str,
        token: Option<&str>,
        fingerprint: u64,
    ) -> Result<Paging, HttpError> {
        let Some(token) = token else {
            return Ok(Paging {
                offset: 0,
                start: Some(String::new()),
                previous: None,
                fingerprint,
            });
        };
        let bytes = URL_SAFE_NO_PAD
            .decode(token)
            .map_err(|_| invalid(parameter))?;
        let text = String::from_utf8(bytes).map_err(|_| invalid(parameter))?;
        let parts: Vec<&str> = text.split('|').collect();
        let [version, print, offset, start, previous_offset, previous] = parts.as_slice() else {
            return Err(invalid(parameter));
        };
        if *version != "g1" {
            return Err(invalid(parameter));
        }
        let print = u64::from_str_radix(print, 16).map_err(|_| invalid(parameter))?;
        if print != fingerprint {
            return Err(invalid(parameter));
        }
        let offset: u64 = offset.parse().map_err(|_| invalid(parameter))?;
        let start = if offset == 0 {
            Some(String::new())
        } else {
            (!start.is_empty()).then(|| (*start).to_string())
        };
        let previous = match (previous_offset.parse::<u64>(), previous.is_empty()) {
            (Ok(at), false) => Some((at, (*previous).to_string())),
            (Ok(0), true) => Some((0, String::new())),
            _ => None,
        };
        Ok(Paging {
            offset,
            start,
            previous,
            fingerprint,
        })
    }

    fn encode(&self, offset: u64, start: Option<&str>, previous: Option<(u64, &str)>) -> String {
        let (previous_offset, previous) = match previous {
            Some((at, token)) => (at.to_string(), token),
            None => (String::new(), ""),
        };
        let text = format!(
            "g1|{:x}|{offset}|{}|{previous_offset}|{previous}",
            self.fingerprint,
            start.unwrap_or("")
        );
        URL_SAFE_NO_PAD.encode(text)
    }

    /// The service token to read the page with. A position known only by its offset is
    /// found by reading forward from the start with `skip(token, count)`, which reads
    /// `count` records (at most 1,000) after `token` and answers the token after them
    /// (`None` at the end of the list). A list that ended before the offset leaves `None`:
    /// the page is empty.
    pub async fn start<F, Fut>(
        &mut self,
        page_size: u64,
        mut skip: F,
    ) -> Result<Option<String>, HttpError>
    where
        F: FnMut(String, u64) -> Fut,
        Fut: Future<Output = Result<Option<String>, HttpError>>,
    {
        if let Some(start) = &self.start {
            return Ok(Some(start.clone()));
        }
        let previous_at = self.offset.saturating_sub(page_size);
        let mut position = 0;
        let mut token = String::new();
        for target in [previous_at, self.offset] {
            while position < target {
                let count = (target - position).min(SKIP_CHUNK);
                match skip(token, count).await? {
                    Some(next) => token = next,
                    None => return Ok(None),
                }
                position += count;
            }
            if target == previous_at {
                self.previous = Some((previous_at, token.clone()));
            }
        }
        self.start = Some(token.clone());
        Ok(Some(token))
    }

    /// `(next_page_token, prev_page_token)` for a page of `page_size` that the service
    /// answered with `returned` records and `next` (its token after them, if any).
    pub fn links(
        &self,
        page_size: u64,
        returned: usize,
        next: Option<&str>,
    ) -> (Option<String>, Option<String>) {
        let next_token = next.filter(|token| !token.is_empty()).map(|token| {
            let previous = self.start.as_deref().map(|start| (self.offset, start));
            self.encode(self.offset + returned as u64, Some(token), previous)
        });
        let previous_token = (self.offset > 0).then(|| {
            let target = self.offset.saturating_sub(page_size);
            let known = self
                .previous
                .as_ref()
                .filter(|(at, _)| *at == target)
                .map(|(_, token)| token.as_str());
            self.encode(target, known, None)
        });
        (next_token, previous_token)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    /// A list of `n` records whose service token is the index of the next record.
    fn service(
        n: u64,
        calls: Arc<Mutex<Vec<(String, u64)>>>,
    ) -> impl FnMut(String, u64) -> std::future::Ready<Result<Option<String>, HttpError>> {
        move |token: String, count: u64| {
            if let Ok(mut calls) = calls.lock() {
                calls.push((token.clone(), count));
            }
            let at: u64 = token.parse().unwrap_or(0);
            let next = at + count;
            std::future::ready(Ok((next < n).then(|| next.to_string())))
        }
    }

    #[tokio::test]
    async fn next_then_previous_needs_no_scan_and_a_link_scans_once() {
        let print = fingerprint("state=running");
        let calls = Arc::new(Mutex::new(Vec::new()));
        // The first page: 100 records, the service says the next starts at "100".
        let first = Paging::parse("page_token", None, print).unwrap_or_else(|e| panic!("{e}"));
        let (next, previous) = first.links(100, 100, Some("100"));
        assert_eq!(previous, None);
        let Some(next) = next else {
            panic!("a next page");
        };
        // Page two from its token: starts at "100", knows page one.
        let mut second =
            Paging::parse("page_token", Some(&next), print).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(second.offset, 100);
        let start = second.start(100, service(5000, calls.clone())).await;
        assert_eq!(start.ok(), Some(Some("100".to_string())));
        let (_, previous) = second.links(100, 100, Some("200"));
        let Some(previous) = previous else {
            panic!("a previous page");
        };
        let mut back =
            Paging::parse("page_token", Some(&previous), print).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back.offset, 0);
        assert_eq!(
            back.start(100, service(5000, calls.clone())).await.ok(),
            Some(Some(String::new()))
        );
        assert!(calls.lock().map(|c| c.is_empty()).unwrap_or(false));

        // Page 30 reached from a link, going back: its previous (offset 2800) is found by
        // reading 1000 + 1000 + 800 records, and then page 28 is one scan again.
        let link = first.encode(2900, Some("2900"), None);
        let page =
            Paging::parse("page_token", Some(&link), print).unwrap_or_else(|e| panic!("{e}"));
        let (_, previous) = page.links(100, 100, Some("3000"));
        let Some(previous) = previous else {
            panic!("a previous page");
        };
        let mut back =
            Paging::parse("page_token", Some(&previous), print).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back.offset, 2800);
        let start = back.start(100, service(5000, calls.clone())).await;
        assert_eq!(start.ok(), Some(Some("2800".to_string())));
        let counts: Vec<u64> = calls
            .lock()
            .map(|c| c.iter().map(|(_, n)| *n).collect())
            .unwrap_or_default();
        assert_eq!(counts, [1000, 1000, 700, 100]);
        let (_, previous) = back.links(100, 100, Some("2900"));
        let again = Paging::parse("page_token", previous.as_deref(), print)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(again.offset, 2700);
        assert_eq!(again.start, Some("2700".to_string()));
    }

    #[test]
    fn tokens_of_other_filters_or_garbage_are_refused_naming_the_parameter() {
        let first =
            Paging::parse("page_token", None, fingerprint("a")).unwrap_or_else(|e| panic!("{e}"));
        let (next, _) = first.links(10, 10, Some("x"));
        let next = next.unwrap_or_default();
        let other = Paging::parse("page_token", Some(&next), fingerprint("b"));
        assert_eq!(
            other
                .err()
                .and_then(|e| e.details.get("parameter").cloned()),
            Some("page_token".into())
        );
        assert!(Paging::parse("page_token", Some("not a token"), fingerprint("a")).is_err());
        let (next, _) = first.links(10, 3, None);
        assert_eq!(next, None, "no next page after the last");
    }

    #[tokio::test]
    async fn a_list_shorter_than_the_offset_gives_an_empty_page() {
        let print = fingerprint("");
        let first = Paging::parse("page_token", None, print).unwrap_or_else(|e| panic!("{e}"));
        let link = first.encode(900, None, None);
        let mut page =
            Paging::parse("page_token", Some(&link), print).unwrap_or_else(|e| panic!("{e}"));
        let calls = Arc::new(Mutex::new(Vec::new()));
        assert_eq!(page.start(100, service(500, calls)).await.ok(), Some(None));
    }
}
