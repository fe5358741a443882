"""The worker's settings and mailer, made once per process (the web's are in web/app_resources.py)."""

from functools import lru_cache

from jobs.core.mail import Mailer, mailer_from_settings
from jobs.core.settings import Settings, load_settings


@lru_cache(maxsize=1)
def worker_settings() -> Settings:
    return load_settings()


@lru_cache(maxsize=1)
def worker_mailer() -> Mailer:
    return mailer_from_settings(worker_settings())
