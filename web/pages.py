"""The HTML side: the form, and a status page that follows the job."""

from flask import Blueprint, abort, redirect, render_template, request, url_for

from jobs.tasks import enqueue_fibonacci_email
from web import app_resources, errors, rate_limits
from web.forms import SequenceForm
from web.job_status import find_job, status_fields

bp = Blueprint("pages", __name__)


@bp.get("/")
def index():
    return render_template("index.html", form=SequenceForm(), maximum=app_resources.settings().max_sequence_length)


def sequence_form_again(message: str) -> str:
    """After a refused CSRF token: the form as submitted, checked, with ``message`` above it."""
    form = SequenceForm(formdata=request.form)  # form fields only, as in create_sequence
    form.validate()
    form.form_errors.append(message)
    return render_template("index.html", form=form, maximum=app_resources.settings().max_sequence_length)


@bp.post("/sequences")
@errors.shows_form_again(sequence_form_again)
@rate_limits.per_client_ip
@rate_limits.per_recipient("email")
def create_sequence():
    # Form fields only: given a JSON body, Flask-WTF would read it as the
    # form's data, numbers and lists that the fields cannot parse (a 500).
    form = SequenceForm(formdata=request.form)
    if not form.validate():
        # 422 keeps the browser on the form, with what the user typed and
        # each message beside its field.
        return render_template("index.html", form=form, maximum=app_resources.settings().max_sequence_length), 422
    job = enqueue_fibonacci_email(app_resources.queue(), app_resources.settings(), form.email.data, form.length.data)
    # 303 so a reload of the status page does not post the form again.
    return redirect(url_for("pages.job_status", job_id=job.id), code=303)


@bp.get("/jobs/<job_id>")
def job_status(job_id: str):
    job = find_job(job_id)
    if job is None:
        abort(404)
    return render_template("job.html", job=status_fields(job))
