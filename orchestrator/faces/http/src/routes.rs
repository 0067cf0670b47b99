//! Route tables: every face lists the routes it serves as `(method, template)`, and the
//! server joins the lists into one [`RouteTable`] that labels each request with its
//! template (metrics never get ids as label values) and names the face that owns it.
//!
//! A template segment `{...}` stands for one path segment. A face may also own a
//! [`CatchAll`]: every request of one method under one first segment that no listed
//! route takes (the runtime's blueprint creation route, whose endpoint may span several
//! segments).

/// A route that takes every remaining request of a method under a first path segment.
#[derive(Debug, Clone, Copy)]
pub struct CatchAll {
    pub method: &'static str,
    pub first_segment: &'static str,
    pub template: &'static str,
    /// `(last segment, template)`: the requests it takes whose path ends so are labelled
    /// with that template instead (the runtime's `.../batch`).
    pub by_last_segment: &'static [(&'static str, &'static str)],
}

impl CatchAll {
    fn owns(&self, template: &str) -> bool {
        self.template == template || self.by_last_segment.iter().any(|(_, t)| *t == template)
    }
}

/// Longest route template, in segments (longer paths match none).
const MAX_SEGMENTS: usize = 8;

/// What a request was labelled with: its route template and the index of the face whose
/// table holds it (`None` for the `other` labels).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Label {
    pub template: &'static str,
    pub face: Option<usize>,
}

struct Entry {
    face: usize,
    method: &'static str,
    template: &'static str,
    segments: Vec<&'static str>,
}

#[derive(Default)]
pub struct RouteTable {
    entries: Vec<Entry>,
    catch_alls: Vec<(usize, CatchAll)>,
}

impl RouteTable {
    /// Adds a face's routes under its index.
    pub fn add(&mut self, face: usize, routes: &'static [(&'static str, &'static str)]) {
        for &(method, template) in routes {
            if self.catch_alls.iter().any(|(_, c)| c.owns(template)) {
                continue;
            }
            let segments: Vec<&str> = template.trim_start_matches('/').split('/').collect();
            debug_assert!(segments.len() <= MAX_SEGMENTS, "{template} is too long");
            self.entries.push(Entry {
                face,
                method,
                template,
                segments,
            });
        }
    }

    /// Adds a face's catch-all route (before its [`RouteTable::add`], which then skips it).
    pub fn add_catch_all(&mut self, face: usize, catch_all: CatchAll) {
        self.catch_alls.push((face, catch_all));
    }

    /// The route template of a request: the entry it matches, else a catch-all, else a
    /// route of that shape with another method (a 405), else `/_public/other` or
    /// `other`.
    pub fn label(&self, method: &str, path: &str) -> Label {
        let path = path.trim_matches('/');
        // Split once: this runs for every request, and the table is matched segment-wise.
        let mut segs: [&str; MAX_SEGMENTS] = [""; MAX_SEGMENTS];
        let mut n = 0;
        for seg in path.split('/') {
            if n == MAX_SEGMENTS {
                n += 1;
                break;
            }
            segs[n] = seg;
            n += 1;
        }
        let mut same_shape = None;
        if n <= MAX_SEGMENTS {
            let segs = &segs[..n];
            for e in &self.entries {
                if e.segments.len() == n && matches_segments(&e.segments, segs) {
                    let label = Label {
                        template: e.template,
                        face: Some(e.face),
                    };
                    if e.method == method {
                        return label;
                    }
                    same_shape.get_or_insert(label);
                }
            }
        }
        let first = segs[0];
        if let Some((face, c)) = self
            .catch_alls
            .iter()
            .find(|(_, c)| c.method == method && c.first_segment == first)
        {
            let last = path.rsplit('/').next().unwrap_or_default();
            let template = c
                .by_last_segment
                .iter()
                .find(|(segment, _)| *segment == last)
                .map_or(c.template, |(_, t)| *t);
            return Label {
                template,
                face: Some(*face),
            };
        }
        same_shape.unwrap_or(Label {
            template: if first == "_public" {
                "/_public/other"
            } else {
                "other"
            },
            face: None,
        })
    }
}

/// Whether path segments fit a template's (`{...}` matches any one segment).
fn matches_segments(want: &[&str], got: &[&str]) -> bool {
    want.iter()
        .zip(got)
        .all(|(w, g)| w == g || w.starts_with('{'))
}

/// A request path for a template (every parameter `x`), for tests that walk the tables.
pub fn sample_path(template: &str) -> String {
    template
        .split('/')
        .map(|seg| if seg.starts_with('{') { "x" } else { seg })
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &[(&str, &str)] = &[
        ("GET", "/_public/status"),
        ("GET", "/api/v1/jobs/{id}"),
        ("POST", "/api/{version}/{endpoint}"),
        ("PATCH", "/_worker/workers/{id}"),
    ];
    const B: &[(&str, &str)] = &[("GET", "/projects/{id}"), ("POST", "/projects")];

    fn table() -> RouteTable {
        let mut t = RouteTable::default();
        t.add_catch_all(
            0,
            CatchAll {
                method: "POST",
                first_segment: "api",
                template: "/api/{version}/{endpoint}",
                by_last_segment: &[("batch", "/api/{version}/{endpoint}/batch")],
            },
        );
        t.add(0, A);
        t.add(1, B);
        t
    }

    #[test]
    fn labels_hide_ids_and_name_the_face() {
        let t = table();
        let l = t.label("GET", "/api/v1/jobs/123");
        assert_eq!((l.template, l.face), ("/api/v1/jobs/{id}", Some(0)));
        let l = t.label("GET", "/projects/7");
        assert_eq!((l.template, l.face), ("/projects/{id}", Some(1)));
        assert_eq!(
            t.label("POST", "/api/v2/a/b/c/d").template,
            "/api/{version}/{endpoint}"
        );
        assert_eq!(
            t.label("POST", "/api/v1/a/b/c/d/e/f/g/batch").template,
            "/api/{version}/{endpoint}/batch",
            "however long the endpoint"
        );
        assert_eq!(
            t.label("DELETE", "/_worker/workers/w1").template,
            "/_worker/workers/{id}",
            "another method of a route is counted against it"
        );
        assert_eq!(t.label("GET", "/_public/nope").template, "/_public/other");
        assert_eq!(t.label("GET", "/_publicx").face, None);
        assert_eq!(t.label("GET", "/v1/workflows").template, "other");
        assert_eq!(t.label("GET", "/a/b/c/d/e/f/g/h/i/j").template, "other");
    }

    #[test]
    fn every_route_is_its_own_label() {
        let t = table();
        for (face, routes) in [(0, A), (1, B)] {
            for &(method, template) in routes {
                let l = t.label(method, &sample_path(template));
                assert_eq!((l.template, l.face), (template, Some(face)));
            }
        }
    }
}
