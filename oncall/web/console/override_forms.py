"""The schedule page's forms: an override (who, from, to, in a stated timezone) and a swap
(hand one layer's shift to someone)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import DateTimeLocalField, HiddenField, SelectField, StringField
from wtforms.validators import InputRequired, Length, Optional

LOCAL = "%Y-%m-%dT%H:%M"


class OverrideForm(FlaskForm):
    user = SelectField("Who takes over", validators=[InputRequired("Choose who is on call.")])
    start = DateTimeLocalField("From", format=LOCAL,
                               validators=[InputRequired("Give a date and time.")])
    end = DateTimeLocalField("To", format=LOCAL,
                             validators=[InputRequired("Give a date and time.")])
    note = StringField("Note", validators=[Optional(), Length(max=500)],
                       description="Optional: why, for whoever reads the schedule later.")
    zone = HiddenField()


class SwapForm(FlaskForm):
    to = SelectField("Hand this shift to", validators=[InputRequired("Choose someone.")])
    layer = HiddenField()
    at = HiddenField()
