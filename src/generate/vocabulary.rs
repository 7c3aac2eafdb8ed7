//! Registered group types and the word tables that titles, subtitles and evidence are built from.

use super::json::json_escape;

/// Selects how a type's title, subtitle, culprit, evidence and tags are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    NPlusOneDb,
    SlowDb,
    ConsecutiveDb,
    ConsecutiveHttp,
    NPlusOneApi,
    LargePayload,
    RenderBlocking,
    Uncompressed,
    EndpointRegression,
    FileIoMain,
    FrameDrop,
    Cron,
    RageClick,
    Hydration,
    Feedback,
    Uptime,
    Metric,
    WebVitals,
}

pub(super) struct TypeSpec {
    pub(super) id: u32,
    /// Share of fingerprints, in percent.
    pub(super) weight: u32,
    pub(super) kind: Kind,
    pub(super) level: &'static str,
    pub(super) fp_prefix: &'static str,
    /// Events carry a release / user.
    pub(super) release: bool,
    pub(super) user: bool,
}

/// Registered types (§5.3): with noise configs (1006 3/24h, 1001 100, 1007 15, 1009 5, 1004,
/// 1012 100, 1015, 2009 2000) and without (1010 in 2024, 1018, 2001, 4001, 5002, 5003, 6001, 7001,
/// 8001, 10001); quotas 5, 60000 (4001), 1000 (6001, 7001), 100 (8001).
pub(super) const TYPES: &[TypeSpec] = &[
    TypeSpec {
        id: 1006,
        weight: 20,
        kind: Kind::NPlusOneDb,
        level: "info",
        fp_prefix: "1-1006-",
        release: true,
        user: true,
    },
    TypeSpec {
        id: 1001,
        weight: 10,
        kind: Kind::SlowDb,
        level: "info",
        fp_prefix: "1-1001-",
        release: true,
        user: true,
    },
    TypeSpec {
        id: 1007,
        weight: 8,
        kind: Kind::ConsecutiveDb,
        level: "info",
        fp_prefix: "1-1007-",
        release: true,
        user: true,
    },
    TypeSpec {
        id: 1009,
        weight: 7,
        kind: Kind::ConsecutiveHttp,
        level: "info",
        fp_prefix: "1-1009-",
        release: true,
        user: true,
    },
    TypeSpec {
        id: 1010,
        weight: 8,
        kind: Kind::NPlusOneApi,
        level: "info",
        fp_prefix: "1-1010-",
        release: true,
        user: true,
    },
    TypeSpec {
        id: 1015,
        weight: 2,
        kind: Kind::LargePayload,
        level: "info",
        fp_prefix: "1-1015-",
        release: true,
        user: true,
    },
    TypeSpec {
        id: 1004,
        weight: 3,
        kind: Kind::RenderBlocking,
        level: "info",
        fp_prefix: "1-1004-",
        release: true,
        user: true,
    },
    TypeSpec {
        id: 1012,
        weight: 2,
        kind: Kind::Uncompressed,
        level: "info",
        fp_prefix: "1-1012-",
        release: true,
        user: true,
    },
    TypeSpec {
        id: 1018,
        weight: 2,
        kind: Kind::EndpointRegression,
        level: "warning",
        fp_prefix: "1-1018-",
        release: true,
        user: false,
    },
    TypeSpec {
        id: 2001,
        weight: 5,
        kind: Kind::FileIoMain,
        level: "info",
        fp_prefix: "2001-",
        release: true,
        user: true,
    },
    TypeSpec {
        id: 2009,
        weight: 2,
        kind: Kind::FrameDrop,
        level: "info",
        fp_prefix: "2009-",
        release: true,
        user: true,
    },
    TypeSpec {
        id: 4001,
        weight: 8,
        kind: Kind::Cron,
        level: "error",
        fp_prefix: "monitor-",
        release: false,
        user: false,
    },
    TypeSpec {
        id: 5002,
        weight: 5,
        kind: Kind::RageClick,
        level: "error",
        fp_prefix: "rage-click-",
        release: true,
        user: true,
    },
    TypeSpec {
        id: 5003,
        weight: 3,
        kind: Kind::Hydration,
        level: "error",
        fp_prefix: "hydration-",
        release: true,
        user: true,
    },
    TypeSpec {
        id: 6001,
        weight: 6,
        kind: Kind::Feedback,
        level: "info",
        fp_prefix: "feedback-",
        release: true,
        user: true,
    },
    TypeSpec {
        id: 7001,
        weight: 3,
        kind: Kind::Uptime,
        level: "error",
        fp_prefix: "uptime-",
        release: false,
        user: false,
    },
    TypeSpec {
        id: 8001,
        weight: 3,
        kind: Kind::Metric,
        level: "error",
        fp_prefix: "detector-",
        release: false,
        user: false,
    },
    TypeSpec {
        id: 10001,
        weight: 3,
        kind: Kind::WebVitals,
        level: "info",
        fp_prefix: "web-vitals-",
        release: true,
        user: true,
    },
];

pub(super) const ROUTES: &[&str] = &[
    "/api/orders/{id}",
    "/api/orders/",
    "/api/users/{id}",
    "/api/products/",
    "/api/products/{slug}",
    "/api/cart/checkout",
    "/api/0/issues/{id}/",
    "/api/0/events/",
    "/api/search",
    "/api/invoices/{id}/pdf",
    "/api/auth/login",
    "/api/auth/token/refresh",
    "/graphql",
    "/api/v2/reports/{id}",
    "/api/notifications",
    "/api/teams/{id}",
    "POST /api/payments/charge",
    "/api/shipments/{id}/track",
    "/api/reviews/",
    "/api/inventory/sync",
    "tasks.send_digest_email",
    "tasks.reindex",
    "/api/feeds/{id}/items",
    "/api/comments/",
    "/admin/orders/",
    "/api/subscriptions/{id}",
    "/api/exports/{id}",
    "/api/coupons/validate",
    "/api/sessions/current",
    "app.views.dashboard",
];

pub(super) const PAGES: &[&str] = &[
    "/checkout",
    "/cart",
    "/",
    "/products/:slug",
    "/account/settings",
    "/dashboard",
    "/search",
    "/orders/:id",
    "/login",
    "/signup",
    "/blog/:slug",
    "/pricing",
];

pub(super) const TABLES: &[(&str, &str)] = &[
    ("orders", "customer_id"),
    ("order_items", "order_id"),
    ("users", "organization_id"),
    ("products", "category_id"),
    ("line_items", "invoice_id"),
    ("sessions", "user_id"),
    ("comments", "post_id"),
    ("inventory", "warehouse_id"),
    ("payments", "account_id"),
    ("shipments", "order_id"),
    ("reviews", "product_id"),
    ("sentry_groupedmessage", "project_id"),
];

pub(super) const HOSTS: &[&str] = &[
    "api.stripe.com",
    "hooks.slack.com",
    "api.github.com",
    "maps.googleapis.com",
    "api.sendgrid.com",
    "payments.internal",
    "inventory-svc.internal",
    "s3.amazonaws.com",
    "api.twilio.com",
    "auth.example.com",
];

pub(super) const HTTP_PATHS: &[&str] = &[
    "/v1/charges",
    "/v1/customers/{id}",
    "/api/items/{id}",
    "/repos/{owner}/{repo}",
    "/v3/mail/send",
    "/internal/stock/{sku}",
    "/2010-04-01/Accounts/{sid}/Messages.json",
    "/userinfo",
];

pub(super) const ASSETS: &[&str] = &[
    "main.8f3a1c.js",
    "vendor.2b7e9d.js",
    "styles.c41f0a.css",
    "runtime.77de01.js",
    "fonts/inter-var.woff2",
    "chunk-checkout.a91b3e.js",
    "legacy-polyfills.js",
];

pub(super) const METHODS: &[&str] = &[
    "FileManager.contentsOfDirectory(at:)",
    "Data.init(contentsOf:)",
    "UserDefaults.synchronize()",
    "SQLiteDatabase.execute(_:)",
    "java.io.FileInputStream.read",
    "android.content.SharedPreferences$Editor.commit",
    "JSONDecoder.decode(_:from:)",
    "UIImage.init(named:)",
    "com.example.app.cache.DiskCache.get",
    "NSKeyedUnarchiver.unarchiveObject(with:)",
];

pub(super) const CRON_SLUGS: &[&str] = &[
    "nightly-backup",
    "send-digest-emails",
    "sync-inventory",
    "cleanup-sessions",
    "billing-rollup",
    "refresh-materialized-views",
    "rotate-logs",
    "import-exchange-rates",
    "weekly-report",
    "reindex-search",
];

/// (subtitle, failure reason)
pub(super) const CRON_FAILURES: &[(&str, &str)] = &[
    ("No check-in reported on schedule.", "missed"),
    ("An error occurred during the latest check-in.", "error"),
    ("A check-in timed out.", "timeout"),
];

pub(super) const SELECTORS: &[&str] = &[
    "button.checkout-btn",
    "a#nav-pricing",
    "div.product-card > button",
    "button[data-test-id=\"submit\"]",
    "span.icon-close",
    "input#coupon-code",
    "button.add-to-cart",
    "li.menu-item > a",
];

pub(super) const FEEDBACK: &[&str] = &[
    "The \"Pay now\" button does nothing when I click it",
    "Page keeps loading forever after login",
    "I can't upload my avatar, it says file too large but it's 200KB",
    "Página de pagos no carga — ayuda por favor",
    "Die Suche liefert keine Ergebnisse für „Schuhe“",
    "App crashes when I open settings ⚙️",
    "Export to CSV gives an empty file",
    "Why was I logged out?? Lost my draft",
    "Path C:\\Users\\me\\Downloads is shown instead of the file name",
    "注文履歴が表示されません",
    "Love the new dashboard! But the chart tooltip is cut off",
    "Tab\tcharacters in my address break the form",
];

pub(super) const FEEDBACK_NAMES: &[&str] = &[
    "Jane Doe",
    "Ana García",
    "李雷",
    "Max Mustermann",
    "Pat O'Brien",
    "Sam \"Sammy\" Lee",
];

pub(super) const UPTIME_URLS: &[&str] = &[
    "https://example.com",
    "https://api.example.com/health",
    "https://shop.example.org",
    "https://status.acme.io",
    "https://auth.example.com/login",
];

pub(super) const METRICS: &[&str] = &[
    "Number of errors",
    "p95(transaction.duration)",
    "Failure rate",
    "Crash free session rate",
    "Count of 5xx on /api/checkout",
];

pub(super) const VITALS: &[&str] = &["LCP", "INP", "CLS", "FCP", "TTFB"];

pub(super) const PLATFORMS: &[&str] = &[
    "python",
    "javascript",
    "node",
    "java",
    "go",
    "ruby",
    "php",
    "cocoa",
    "android",
    "csharp",
];

pub(super) const RELEASE_NAMES: &[&str] = &[
    "backend",
    "frontend",
    "api",
    "web",
    "ios-app",
    "android-app",
    "worker",
    "billing",
    "search",
    "auth",
    "checkout",
    "gateway",
];

/// Culprits longer than 200 characters (some multi-byte) to exercise truncation.
const LONG_CULPRITS: &[&str] = &[
    "/api/search?q=ÄÖÜäöüßÄÖÜäöüßÄÖÜäöüßÄÖÜäöüßÄÖÜäöüßÄÖÜäöüßÄÖÜäöüßÄÖÜäöüßÄÖÜäöüßÄÖÜäöüßÄÖÜäöüßÄÖÜäöüßÄÖÜäöüßÄÖÜäöüßÄÖÜäöüßÄÖÜäöüßÄÖÜäöüßÄÖÜäöüßÄÖÜäöüßÄÖÜäöüßÄÖÜäöüßÄÖÜäöüßÄÖÜäöüßÄÖÜäöüßÄÖÜäöüßÄÖÜäöüßÄÖÜäöüß&page=2",
    "app.services.reporting.generators.quarterly.QuarterlyRevenueReportGenerator.build_sections.<locals>.render_table_rows.<locals>.format_currency_cell_with_locale_fallbacks_and_rounding_rules_for_legacy_accounts",
];

/// Pre-escaped vocabulary (JSON string contents without the quotes).
pub(super) struct Vocab {
    pub(super) routes: Vec<String>,
    pub(super) pages: Vec<String>,
    pub(super) methods: Vec<String>,
    pub(super) selectors: Vec<String>,
    pub(super) feedback: Vec<String>,
    pub(super) feedback_names: Vec<String>,
    pub(super) long_culprits: Vec<String>,
}

impl Vocab {
    pub(super) fn new() -> Vocab {
        let e = |l: &[&str]| l.iter().map(|x| json_escape(x)).collect::<Vec<_>>();
        Vocab {
            routes: e(ROUTES),
            pages: e(PAGES),
            methods: e(METHODS),
            selectors: e(SELECTORS),
            feedback: e(FEEDBACK),
            feedback_names: e(FEEDBACK_NAMES),
            long_culprits: e(LONG_CULPRITS),
        }
    }
}
