"""The forms of ``/profile``."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import DataRequired, Length, Optional


class ContactForm(FlaskForm):
    phone = StringField("Phone number", validators=[Optional(), Length(max=32)],
                        description="E.164: + and the country code, e.g. +14155550100. A "
                                    "number you enter is sent a code by SMS, and is paged "
                                    "only once you enter that code.",
                        render_kw={"autocomplete": "tel", "inputmode": "tel"})
    slack_id = StringField("Slack member ID", validators=[Optional(), Length(max=32)],
                           description="In Slack: your profile, ⋮, Copy member ID (U012AB3CD). "
                                       "Empty: found by your email.",
                           render_kw={"autocomplete": "off"})


class ZoneForm(FlaskForm):
    timezone = StringField("Your timezone", validators=[DataRequired(), Length(max=64)],
                           description="IANA name, e.g. America/New_York: the console shows "
                                       "times in it, and the calendar feed and shift "
                                       "reminders use it.",
                           render_kw={"list": "zones", "autocomplete": "off"})


class CodeForm(FlaskForm):
    code = StringField("Code from the SMS", validators=[Length(max=12)],
                       render_kw={"autocomplete": "one-time-code", "inputmode": "numeric"})
