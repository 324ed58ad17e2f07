//! Web origins and the browser's match patterns, for what the extension must ask the browser
//! for: the pages where a rep's softphone is embedded (where the bridge and panel are
//! registered) and the hosts of each CRM's API (which the worker may only fetch once the rep
//! granted them).
//!
//! Why not the `url` crate: it brings IDNA and its Unicode tables, tens of kilobytes of a
//! module with a size budget, to read what is here a scheme, a host and a port. Hosts are
//! compared as written, lower-cased; internationalised names are for the browser to resolve.
//!
//! Invariant: a pattern made here names one host, never a wildcard host, so the extension only
//! ever asks for one site at a time even though its manifest allows any (`https://*/*`).

use std::fmt;

/// `scheme://host[:port]`, the part of a URL the browser's permissions are about.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Origin {
    pub scheme: Scheme,
    /// Lower-cased host name or IP address (IPv6 in brackets).
    pub host: String,
    pub port: Option<u16>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scheme {
    Http,
    Https,
}

impl Origin {
    /// The origin of an `http(s)` URL or origin; `None` for anything else (another scheme, a
    /// wildcard or an empty host, user info, a bad port).
    pub fn of(url: &str) -> Option<Origin> {
        let (scheme, rest) = if let Some(r) = url.strip_prefix("https://") {
            (Scheme::Https, r)
        } else if let Some(r) = url.strip_prefix("http://") {
            (Scheme::Http, r)
        } else {
            return None;
        };
        let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
        if authority.contains('@') || authority.contains('*') {
            return None;
        }
        let (host, port) = match authority.strip_prefix('[') {
            Some(v6) => {
                let (inside, after) = v6.split_once(']')?;
                let port = match after {
                    "" => None,
                    p => Some(p.strip_prefix(':')?.parse::<u16>().ok()?),
                };
                (format!("[{inside}]"), port)
            }
            None => match authority.split_once(':') {
                Some((h, p)) => (h.to_owned(), Some(p.parse::<u16>().ok()?)),
                None => (authority.to_owned(), None),
            },
        };
        let host = host.to_ascii_lowercase();
        let valid = !host.is_empty() && host.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '[' | ']' | ':'));
        valid.then_some(Origin { scheme, host, port })
    }

    /// Whether the host is this machine (`localhost`, `127.x.x.x`, `[::1]`): the only place
    /// plain `http://` is acceptable.
    pub fn is_loopback(&self) -> bool {
        self.host == "localhost" || self.host.starts_with("127.") || self.host == "[::1]"
    }

    /// Whether the browser would let a page talk to this origin without exposing what it sends:
    /// `https://`, or `http://` to this machine.
    pub fn is_secure(&self) -> bool {
        self.scheme == Scheme::Https || self.is_loopback()
    }

    /// The browser's match pattern for every page of this host, any port (`https://host/*`):
    /// what `chrome.permissions` and `chrome.scripting` take.
    pub fn pattern(&self) -> String {
        format!("{}://{}/*", self.scheme.as_str(), self.host)
    }
}

impl Scheme {
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}", self.scheme.as_str(), self.host)?;
        match self.port {
            Some(p) => write!(f, ":{p}"),
            None => Ok(()),
        }
    }
}

/// A page where the rep's softphone is embedded, as settings name it: an origin
/// (`https://crm.example.com`) or a match pattern on one host (`https://crm.example.com/app/*`).
/// Returns the browser's match pattern for it, or `None` when it names no single web host.
pub fn page_pattern(page: &str) -> Option<String> {
    let origin = Origin::of(page)?;
    if !origin.is_secure() {
        return None;
    }
    let after_scheme = page.split_once("://").map_or("", |(_, r)| r);
    let path = after_scheme.find('/').map_or("", |i| &after_scheme[i..]);
    let path = match path {
        "" | "/" => "/*",
        p if p.contains(['?', '#']) => return None,
        p => p,
    };
    Some(format!("{}://{}{path}", origin.scheme.as_str(), origin.host))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_read_from_urls_and_refused_when_they_name_no_single_host() {
        let o = Origin::of("https://API.HubAPI.com/crm/v3?x=1").unwrap();
        assert_eq!((o.to_string(), o.pattern()), ("https://api.hubapi.com".into(), "https://api.hubapi.com/*".into()));
        let local = Origin::of("http://127.0.0.1:8790/hubspot").unwrap();
        assert_eq!((local.to_string(), local.pattern()), ("http://127.0.0.1:8790".into(), "http://127.0.0.1/*".into()));
        assert!(local.is_secure() && local.is_loopback());
        assert!(!Origin::of("http://crm.example.com").unwrap().is_secure());
        assert_eq!(Origin::of("http://[::1]:9/x").map(|o| (o.host, o.port)), Some(("[::1]".into(), Some(9))));
        assert_eq!(Origin::of("http://[::1]/x").map(|o| (o.host, o.port)), Some(("[::1]".into(), None)));
        for bad in ["ftp://x.example", "https://", "https://*.example.com", "https://user@x.example", "https://x.example:99999", "x.example", "https://a b.example"] {
            assert_eq!(Origin::of(bad), None, "{bad}");
        }
    }

    #[test]
    fn pages_become_patterns_on_one_host() {
        let cases = [
            ("https://crm.example.com", Some("https://crm.example.com/*")),
            ("https://crm.example.com/", Some("https://crm.example.com/*")),
            ("https://crm.example.com:8443/app/*", Some("https://crm.example.com/app/*")),
            ("http://127.0.0.1:4000", Some("http://127.0.0.1/*")),
            ("http://crm.example.com", None),
            ("https://*.example.com/*", None),
            ("https://crm.example.com/?q=*", None),
            ("chrome://extensions", None),
        ];
        for (page, want) in cases {
            assert_eq!(page_pattern(page).as_deref(), want, "{page}");
        }
    }
}
