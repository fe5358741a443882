from jobs.email_content import fibonacci_email
from jobs.fibonacci import fibonacci
from tests.support.mail_checks import numbers_in_html, numbers_in_text


def test_subject_counts_the_numbers():
    assert fibonacci_email("a@example.com", "b@example.com", 10).subject == "Your 10 Fibonacci numbers"
    assert fibonacci_email("a@example.com", "b@example.com", 1).subject == "Your 1 Fibonacci number"


def test_both_parts_hold_every_number_in_order():
    email = fibonacci_email("from@example.com", "to@example.com", 300)
    assert numbers_in_text(email.text) == fibonacci(300)
    assert numbers_in_html(email.html) == fibonacci(300)
    assert email.sender == "from@example.com" and email.recipient == "to@example.com"


def test_html_part_is_a_complete_document():
    html = fibonacci_email("from@example.com", "to@example.com", 3).html
    assert html.startswith("<!doctype html>") and html.rstrip().endswith("</html>")
