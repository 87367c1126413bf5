"""A table of real-world replies to a reminder, and what each must mean."""

from __future__ import annotations

import pytest

from comms.reply_intent import classify

TABLE = [
    # plain confirmations
    ("C", "confirm"), ("c", "confirm"), ("Y", "confirm"), ("YES", "confirm"), ("yes", "confirm"),
    ("Yes!", "confirm"), ("  yes.  ", "confirm"), ("Yep", "confirm"), ("yeah", "confirm"), ("ok", "confirm"),
    ("Okay!", "confirm"), ("Confirm", "confirm"), ("confirmed", "confirm"), ("Sure", "confirm"),
    ("👍", "confirm"), ("👍🏽", "confirm"), ("✅", "confirm"), ("yes 👍", "confirm"),
    ("yes I'll be there", "confirm"), ("Yes, I will be there!", "confirm"), ("yes see you then", "confirm"),
    ("Yes thank you", "confirm"), ("yes thanks", "confirm"), ("I'll be there", "confirm"),
    ("We will be there, thanks", "confirm"), ("see you then!", "confirm"), ("Yes, that works", "confirm"),
    ("Sí", "confirm"), ("yes sounds good", "confirm"), ("I\u2019ll be there", "confirm"),
    # reschedule requests
    ("R", "reschedule"), ("r", "reschedule"), ("reschedule", "reschedule"),
    ("Can I reschedule?", "reschedule"),
    ("I need to re-schedule", "reschedule"), ("Can we move it to Friday", "reschedule"),
    ("yes but can I change the time", "reschedule"), ("I can't make it", "reschedule"),
    ("cannot make it, sorry", "reschedule"), ("Won't be able to come... can't make it", "reschedule"),
    ("need a different day", "reschedule"), ("Could we do another time?", "reschedule"),
    ("I need to cancel my appointment", "reschedule"), ("please postpone", "reschedule"),
    ("can we push it back an hour", "reschedule"),
    # a person must look
    ("no", "alert"), ("No", "alert"), ("not sure yet", "alert"), ("yes but I'm running late", "alert"),
    ("yes what time was it?", "alert"), ("Who is this?", "alert"), ("maybe", "alert"),
    ("What's the address?", "alert"), ("I have a toothache", "alert"), ("", "alert"), ("   ", "alert"),
    ("yes my son has a fever", "alert"), ("ok when?", "alert"), ("Call me please", "alert"),
    ("Yesterday was better", "alert"), ("cool", "alert"), ("👎", "alert"),
]  # fmt: skip


@pytest.mark.parametrize(("reply", "meaning"), TABLE, ids=[repr(r) for r, _ in TABLE])
def test_reply_means(reply: str, meaning: str) -> None:
    assert classify(reply) == meaning
