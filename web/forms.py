"""The one form, shared by the HTML page and (with CSRF off) the JSON API."""

from __future__ import annotations

from email_validator import EmailNotValidError, validate_email
from flask_wtf import FlaskForm
from wtforms import IntegerField, StringField, ValidationError
from wtforms.validators import InputRequired, Length

from web import app_resources


class WholeNumberField(IntegerField):
    """An IntegerField whose parse error speaks plainly."""

    def process_formdata(self, valuelist: list[str]) -> None:
        if not valuelist or not valuelist[0]:
            return  # InputRequired says it is missing
        if not valuelist[0].strip():
            # Only spaces: InputRequired lets it through, so refuse it here,
            # or the job would be enqueued without a length.
            self.data = None
            raise ValueError("Enter how many numbers you want.")
        try:
            self.data = int(valuelist[0])
        except ValueError:
            self.data = None
            raise ValueError("Enter a whole number, like 10.") from None


class SequenceForm(FlaskForm):
    email = StringField(
        "Your email address",
        validators=[InputRequired("Enter your email address."), Length(max=254, message="That address is too long.")],
    )
    length = WholeNumberField(
        "How many Fibonacci numbers",
        validators=[InputRequired("Enter how many numbers you want.")],
    )

    def validate_email(self, field: StringField) -> None:
        try:
            # No DNS look-up: it is slow, and fails offline and in tests.
            result = validate_email(field.data.strip(), check_deliverability=False)
        except EmailNotValidError as error:
            raise ValidationError(str(error)) from None
        field.data = result.normalized

    def validate_length(self, field: IntegerField) -> None:
        maximum = app_resources.settings().max_sequence_length
        if field.data is None:
            return  # WholeNumberField already said why
        if not 1 <= field.data <= maximum:
            raise ValidationError(f"Choose a number from 1 to {maximum}.")
