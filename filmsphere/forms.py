"""The base of every form: a field reads only what a browser's form would send for it."""

from __future__ import annotations

from typing import Any

from flask import request
from flask_wtf import FlaskForm
from flask_wtf.form import _Auto, _is_submitted
from werkzeug.datastructures import CombinedMultiDict, ImmutableMultiDict
from wtforms import FileField


class AppForm(FlaskForm):
    """Flask-WTF hands every field the uploads and the form body together, and a JSON body
    as if it were a form: a file sent under a text field's name, or a JSON list where a
    text was expected, reached the views as objects they can't handle (a 500). Here text
    fields read the form body only, file fields the uploads too; no form reads JSON."""

    class Meta(FlaskForm.Meta):
        def wrap_formdata(self, form: Any, formdata: Any) -> Any:
            if formdata is not _Auto:
                return formdata
            if not _is_submitted():
                return None
            files = {
                name
                for name, field in form._fields.items()  # noqa: SLF001 (wtforms' field map)
                if isinstance(field, FileField)
            }
            uploads = ImmutableMultiDict(
                (name, upload) for name, upload in request.files.items(multi=True) if name in files
            )
            if uploads:
                return CombinedMultiDict((uploads, request.form))
            return request.form or None
