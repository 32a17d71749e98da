"""Settings come from the environment so one build runs in development, CI and production.

Variables: DATABASE_URL, SECRET_KEY, KEHU_FIELD_KEY, DEBUG, KEHU_DATA_DIR, ALLOWED_HOSTS, CSRF_TRUSTED_ORIGINS,
HUEY_REDIS_URL, EMAIL_BACKEND / EMAIL_HOST / EMAIL_PORT / ... (outgoing mail, docs/mail.md).
"""

from __future__ import annotations

import base64
import os
import secrets
from pathlib import Path

import dj_database_url
from django.utils.translation import gettext_lazy as _

PACKAGE_DIR = Path(__file__).resolve().parent.parent
REPO_DIR = PACKAGE_DIR.parent.parent


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


DATA_DIR = Path(os.environ.get("KEHU_DATA_DIR", REPO_DIR / "data")).resolve()
# Uploaded files (contract attachments). Never served by URL: only through views that check the
# user may see the record the file belongs to.
MEDIA_ROOT = Path(os.environ.get("KEHU_MEDIA_DIR", DATA_DIR / "media")).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)


def _load_or_create_secret_key() -> str:
    """Use SECRET_KEY when given; otherwise keep one generated key in the data folder so
    sessions survive restarts without anyone having to invent a key."""
    from_env = os.environ.get("SECRET_KEY")
    if from_env:
        return from_env
    key_file = DATA_DIR / "secret_key"
    if key_file.exists():
        return key_file.read_text().strip()
    key = secrets.token_urlsafe(50)
    key_file.write_text(key)
    key_file.chmod(0o600)
    return key


SECRET_KEY = _load_or_create_secret_key()


def _load_or_create_field_key() -> str:
    """The AES-256 key of encrypted fields (kehu.core.crypto; docs/security.md "Encryption at rest"):
    KEHU_FIELD_KEY when given (32 bytes, urlsafe base64), else one generated key kept in the data folder.
    Not in backups: lose it and the encrypted fields are gone."""
    from_env = os.environ.get("KEHU_FIELD_KEY")
    if from_env:
        return from_env.strip()
    key_file = DATA_DIR / "field_key"
    if key_file.exists():
        return key_file.read_text().strip()
    key = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
    # O_EXCL: when the web and worker processes start together only one key wins (two keys would
    # leave values one process wrote unreadable to the other); 0600 from the first byte.
    try:
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return key_file.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    return key


KEHU_FIELD_KEY = _load_or_create_field_key()
# Earlier field keys, comma-separated: read (decrypt) only, while `kehu rotate_field_key` re-encrypts.
KEHU_FIELD_KEYS_OLD = [k.strip() for k in os.environ.get("KEHU_FIELD_KEYS_OLD", "").split(",") if k.strip()]
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = [h for h in os.environ.get("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",") if h]
CSRF_TRUSTED_ORIGINS = [o for o in os.environ.get("CSRF_TRUSTED_ORIGINS", "").split(",") if o]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    # django-ninja as an app so /api/v1/docs serves the Swagger UI it ships (static files), not a CDN.
    "ninja",
    # Background work (normalisation runs, imports, reminders): Huey, SQLite storage by default.
    "huey.contrib.djhuey",
    "kehu.core",
    "kehu.accounts",
    "kehu.customers",
    "kehu.dataquality",
    "kehu.imports",
    "kehu.sales",
    "kehu.leads",
    "kehu.contracts",
    "kehu.pool",
    "kehu.activities",
    "kehu.mailing",
    "kehu.notifications",
    "kehu.automation",
    "kehu.privacy",
    "kehu.recyclebin",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # Idle/absolute session timeouts and the two-factor step (kehu.accounts, docs/security.md).
    "kehu.accounts.middleware.SessionSecurityMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "kehu.core.middleware.RequestContextMiddleware",
]

ROOT_URLCONF = "kehu.config.urls"
WSGI_APPLICATION = "kehu.config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [PACKAGE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "kehu.notifications.context_processors.unread_notifications",
            ],
        },
    }
]

DEFAULT_SQLITE_PATH = DATA_DIR / "kehu.sqlite3"
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{DEFAULT_SQLITE_PATH}"),
        conn_max_age=int(os.environ.get("DB_CONN_MAX_AGE", "60")),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets readers run beside the one writer; IMMEDIATE takes the write lock at BEGIN so two
    # writers queue on busy_timeout instead of failing with "database is locked" mid-transaction.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": (
            "PRAGMA journal_mode=WAL;"
            "PRAGMA synchronous=FULL;"
            "PRAGMA busy_timeout=20000;"
            "PRAGMA foreign_keys=ON;"
            "PRAGMA cache_size=-65536;"
            "PRAGMA mmap_size=268435456;"
            "PRAGMA temp_store=MEMORY;"
        ),
    }

if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Kehu's queries are short index lookups; a parallel worker costs ~10 ms to launch, more than
    # the lookup itself, and the planner picks one whenever a skewed token's row count is misjudged.
    # Reports that want parallel scans can raise it with SET LOCAL.
    DATABASES["default"].setdefault("OPTIONS", {})["options"] = "-c max_parallel_workers_per_gather=0"

if os.environ.get("KEHU_TEST_DB_NAME") and DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Lets several test runs share one PostgreSQL server without clobbering each other's test DB.
    DATABASES["default"]["TEST"] = {"NAME": os.environ["KEHU_TEST_DB_NAME"]}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "customers:list"
LOGOUT_REDIRECT_URL = "accounts:login"

# Sign-in with lockout (5 failures in 15 min per username, 20 per IP → 15 min; docs/security.md).
AUTHENTICATION_BACKENDS = ["kehu.accounts.backends.LockoutModelBackend"]
KEHU_LOGIN_USER_FAILURES = int(os.environ.get("KEHU_LOGIN_USER_FAILURES", "5"))
KEHU_LOGIN_IP_FAILURES = int(os.environ.get("KEHU_LOGIN_IP_FAILURES", "20"))
KEHU_LOGIN_WINDOW_MINUTES = int(os.environ.get("KEHU_LOGIN_WINDOW_MINUTES", "15"))
KEHU_LOGIN_LOCK_MINUTES = int(os.environ.get("KEHU_LOGIN_LOCK_MINUTES", "15"))

# Password policy: length, common passwords, all-digit, likeness to the user's name; no composition rules.
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("简体中文")), ("en", _("English"))]
LOCALE_PATHS = [PACKAGE_DIR / "locale"]
TIME_ZONE = os.environ.get("TIME_ZONE", "Asia/Shanghai")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = Path(os.environ.get("KEHU_STATIC_ROOT", DATA_DIR / "static"))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # WhiteNoise warns on every request without it
# Front-end libraries come from npm (package-lock.json); node_modules is never committed.
NODE_MODULES_DIR = REPO_DIR / "node_modules"
STATICFILES_DIRS = [PACKAGE_DIR / "static"]
if NODE_MODULES_DIR.exists():
    STATICFILES_DIRS.append(("vendor", NODE_MODULES_DIR))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedStaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = True

SESSION_COOKIE_HTTPONLY = True
# Sessions end after KEHU_SESSION_IDLE_MINUTES without a request and KEHU_SESSION_MAX_HOURS after
# sign-in (kehu.accounts.middleware, with a message). The cookie/row lives an hour longer so the
# middleware, not a silently vanished session, is what ends it.
KEHU_SESSION_IDLE_MINUTES = float(os.environ.get("KEHU_SESSION_IDLE_MINUTES", "30"))
KEHU_SESSION_MAX_HOURS = float(os.environ.get("KEHU_SESSION_MAX_HOURS", "12"))
SESSION_COOKIE_AGE = int(os.environ.get("SESSION_COOKIE_AGE", str(int(KEHU_SESSION_MAX_HOURS * 3600) + 3600)))
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = False  # HTMX reads the token from the cookie-free meta tag; keep default access
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
if env_bool("KEHU_HTTPS", False):
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env_bool("KEHU_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = int(os.environ.get("KEHU_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    # Preloading is a commitment browsers keep for months even if HTTPS is later dropped: opt-in only,
    # and `check --deploy`'s reminder about it (security.W021) is silenced until then.
    SECURE_HSTS_PRELOAD = env_bool("KEHU_HSTS_PRELOAD", False)
    if not SECURE_HSTS_PRELOAD:
        SILENCED_SYSTEM_CHECKS = ["security.W021"]
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Huey: a SQLite file beside the database by default (one machine, no extra server); Redis when
# HUEY_REDIS_URL is set. HUEY_IMMEDIATE=1 runs tasks in-process (tests, `kehu normalize --now`).
HUEY = {
    "name": "kehu",
    "immediate": env_bool("HUEY_IMMEDIATE", False),
    "results": False,
    "utc": True,
    # max_delay: an idle consumer polls at most 1 s apart (Huey's default backs off to 10 s), so an
    # automation rule acts within about a second of the commit that fired it.
    "consumer": {"workers": int(os.environ.get("KEHU_WORKERS", "2")), "worker_type": "thread", "max_delay": 1.0},
}
if os.environ.get("HUEY_REDIS_URL"):
    HUEY.update({"huey_class": "huey.RedisHuey", "url": os.environ["HUEY_REDIS_URL"]})
else:
    HUEY.update({"huey_class": "huey.SqliteHuey", "filename": str(DATA_DIR / "huey.sqlite3")})

# The cache holds counters that every web process must share (the public lead form's per-IP rate
# limit): files in the data folder on one machine, Redis when KEHU_CACHE_REDIS_URL is set (several
# machines). Django's default in-memory cache would give each gunicorn worker its own count.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
                      "LOCATION": str(DATA_DIR / "cache")}}
if os.environ.get("KEHU_CACHE_REDIS_URL"):
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                          "LOCATION": os.environ["KEHU_CACHE_REDIS_URL"]}}

EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
# Outgoing mail (kehu.mailing, docs/mail.md): the console backend prints mails in development; set
# EMAIL_BACKEND=django.core.mail.backends.smtp.EmailBackend and the SMTP server below in production.
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", os.environ.get("EMAIL_USER", ""))
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", os.environ.get("EMAIL_PASSWORD", ""))
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = int(os.environ.get("EMAIL_TIMEOUT", "30"))
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Kehu <noreply@localhost>")
SERVER_EMAIL = os.environ.get("SERVER_EMAIL", DEFAULT_FROM_EMAIL)
# The site's address for links in mails (notification e-mails), e.g. https://crm.example.com
KEHU_SITE_URL = os.environ.get("KEHU_SITE_URL", "").rstrip("/")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "WARNING")},
}

KEHU_LIST_PAGE_SIZE = 50

# Deleted records wait this many days in the recycle bin (回收站) before the nightly purge.
KEHU_RECYCLE_BIN_DAYS = int(os.environ.get("KEHU_RECYCLE_BIN_DAYS", "30"))

# Backups (docs/backup.md): `kehu backup` writes into KEHU_BACKUP_DIR; the worker makes one every day at
# KEHU_BACKUP_SCHEDULE (HH:MM in TIME_ZONE, or "off") and keeps the newest KEHU_BACKUP_KEEP.
KEHU_BACKUP_DIR = Path(os.environ.get("KEHU_BACKUP_DIR", DATA_DIR / "backups")).resolve()
KEHU_BACKUP_KEEP = int(os.environ.get("KEHU_BACKUP_KEEP", "14"))
KEHU_BACKUP_SCHEDULE = os.environ.get("KEHU_BACKUP_SCHEDULE", "01:30").strip().lower()
_hour, _sep, _minute = KEHU_BACKUP_SCHEDULE.partition(":")
if KEHU_BACKUP_SCHEDULE != "off" and not (
    _hour.isdigit() and int(_hour) < 24 and (not _sep or (_minute.isdigit() and int(_minute) < 60))
):
    raise ValueError(f"KEHU_BACKUP_SCHEDULE must be HH:MM or off, not {KEHU_BACKUP_SCHEDULE!r}")
if KEHU_BACKUP_KEEP < 1:
    raise ValueError("KEHU_BACKUP_KEEP must be at least 1")
