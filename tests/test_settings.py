import pytest

from jobs.core.settings import ConfigurationError, load_settings
from tests.support.processes import environment_for, free_port
from tests.support.procfile import start_process_type

LONG_SECRET = "x" * 40


def test_defaults_suit_local_development():
    settings = load_settings({})
    assert settings.redis_url == "redis://localhost:6379"
    assert settings.smtp_url == "smtp://localhost:1025"
    assert settings.max_sequence_length == 1000
    assert settings.mail_backend == "smtp"
    assert settings.on_heroku is False
    assert settings.secret_key is None


def test_reads_every_documented_variable():
    settings = load_settings(
        {
            "REDIS_URL": "rediss://:pw@redis.example:6380",
            "SMTP_URL": "smtp://mail.example:2525",
            "SENDGRID_API_KEY": "SG.key",
            "MAIL_FROM": "Numbers <numbers@example.com>",
            "SECRET_KEY": LONG_SECRET,
            "SENTRY_DSN": "https://key@sentry.example/1",
            "MAX_SEQUENCE_LENGTH": "50",
            "PORT": "8080",
            "WEB_CONCURRENCY": "3",
            "RETRY_INTERVALS": "1,2,3",
        }
    )
    assert settings.redis_url == "rediss://:pw@redis.example:6380"
    assert settings.smtp_url == "smtp://mail.example:2525"
    assert settings.mail_backend == "sendgrid"
    assert settings.mail_from == "Numbers <numbers@example.com>"
    assert settings.secret_key == LONG_SECRET
    assert settings.sentry_dsn == "https://key@sentry.example/1"
    assert settings.max_sequence_length == 50
    assert settings.port == 8080
    assert settings.web_concurrency == 3
    assert settings.retry_intervals == (1, 2, 3)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("MAX_SEQUENCE_LENGTH", "many"),
        ("MAX_SEQUENCE_LENGTH", "0"),
        ("PORT", "http"),
        ("RETRY_INTERVALS", "10,soon"),
        ("RETRY_INTERVALS", "-1"),
    ],
)
def test_malformed_numbers_are_reported_by_name(name, value):
    with pytest.raises(ConfigurationError, match=name):
        load_settings({name: value})


@pytest.mark.parametrize(("name", "value"), [("REDIS_VERIFY_CERTIFICATE", "sometimes"), ("LOG_LEVEL", "verbose")])
def test_other_malformed_settings_are_reported_by_name(name, value):
    with pytest.raises(ConfigurationError, match=f"{name} must be .*, not '{value}'"):
        load_settings({name: value})


def test_heroku_refuses_to_start_without_secret_sender_or_key():
    settings = load_settings({"DYNO": "web.1"})
    assert settings.on_heroku
    with pytest.raises(ConfigurationError) as raised:
        settings.check_for_production()
    message = str(raised.value)
    assert "SECRET_KEY" in message and "SENDGRID_API_KEY" in message and "MAIL_FROM" in message


def test_heroku_refuses_a_short_secret():
    settings = load_settings({"DYNO": "web.1", "SECRET_KEY": "secret", "SENDGRID_API_KEY": "SG.x", "MAIL_FROM": "a@example.com"})
    with pytest.raises(ConfigurationError, match="SECRET_KEY is shorter"):
        settings.check_for_production()


def test_heroku_accepts_complete_settings():
    load_settings(
        {"DYNO": "worker.1", "SECRET_KEY": LONG_SECRET, "SENDGRID_API_KEY": "SG.x", "MAIL_FROM": "a@example.com"}
    ).check_for_production()


def test_heroku_accepts_an_explicit_smtp_provider_instead_of_sendgrid():
    load_settings(
        {"DYNO": "worker.1", "SECRET_KEY": LONG_SECRET, "SMTP_URL": "smtps://u:p@smtp.example", "MAIL_FROM": "a@example.com"}
    ).check_for_production()


def test_sentry_settings_come_from_the_environment_and_heroku_dyno_metadata():
    settings = load_settings(
        {"DYNO": "web.1", "HEROKU_RELEASE_VERSION": "v42", "HEROKU_SLUG_COMMIT": "2c3a0b24", "SENTRY_TRACES_SAMPLE_RATE": "0.25"}
    )
    assert settings.environment == "production"
    assert settings.release == "2c3a0b24"
    assert settings.sentry_traces_sample_rate == 0.25
    assert load_settings({"HEROKU_RELEASE_VERSION": "v42", "SENTRY_ENVIRONMENT": "staging"}).release == "v42"
    assert load_settings({"SENTRY_ENVIRONMENT": "staging"}).environment == "staging"
    assert load_settings({}).sentry_traces_sample_rate == 0.0


@pytest.mark.parametrize("value", ["lots", "1.5", "-0.1"])
def test_a_traces_sample_rate_outside_0_to_1_is_refused(value):
    with pytest.raises(ConfigurationError, match="SENTRY_TRACES_SAMPLE_RATE"):
        load_settings({"SENTRY_TRACES_SAMPLE_RATE": value})


def test_redis_certificates_are_verified_except_on_heroku_unless_said_otherwise():
    assert load_settings({}).redis_verify_certificate is True
    assert load_settings({"DYNO": "web.1"}).redis_verify_certificate is False  # Key-Value Store's is self-signed
    assert load_settings({"DYNO": "web.1", "REDIS_VERIFY_CERTIFICATE": "on"}).redis_verify_certificate is True
    assert load_settings({"REDIS_VERIFY_CERTIFICATE": "Off"}).redis_verify_certificate is False


def test_a_log_level_is_one_of_logging_s_names_in_any_case():
    assert load_settings({}).log_level == "INFO"
    assert load_settings({"LOG_LEVEL": "warning"}).log_level == "WARNING"


@pytest.mark.parametrize("process_type", ["web", "worker"])
def test_a_bad_setting_stops_the_procfile_s_processes_with_one_line_that_names_it(settings, tmp_path, process_type):
    env = environment_for(settings, LOG_LEVEL="verbose", PORT=str(free_port()))
    process = start_process_type(process_type, env, tmp_path / f"{process_type}.log")
    try:
        returncode = process.wait(30)
    finally:
        process.stop()
    output = process.output()
    assert returncode != 0, output
    assert "LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL, not 'verbose'" in output
    assert "Traceback" not in output, output


@pytest.mark.parametrize(
    ("environ", "environment"),
    [
        ({}, "development"),
        ({"DYNO": "web.1"}, "production"),
        ({"DYNO": "web.1", "HEROKU_APP_NAME": "fib-pr-12", "HEROKU_BRANCH": "fix-typo", "HEROKU_PR_NUMBER": "12"}, "review"),
        ({"DYNO": "web.1", "HEROKU_APP_NAME": "fib-fix-typo-x1y2z3", "HEROKU_BRANCH": "fix-typo"}, "review"),  # created by hand
        ({"CI": "true", "HEROKU_TEST_RUN_ID": "4a1c", "HEROKU_TEST_RUN_BRANCH": "main"}, "ci"),  # Heroku CI
        ({"CI": "true"}, "ci"),  # GitHub Actions and most others
        ({"CI": "false"}, "development"),
        ({"DYNO": "web.1", "HEROKU_PR_NUMBER": "12", "CI": "true", "SENTRY_ENVIRONMENT": "staging"}, "staging"),
    ],
)
def test_sentry_hears_which_kind_of_app_reports(environ, environment):
    assert load_settings(environ).environment == environment
