"""Which of the user's other functions a row's cases ran, and the note that says so.

Each function is checked on its own where crosscheck can: a backward whose cache the template fixes
gets it from a reference forward, and the template forwards a function calls are references while
it runs. What still runs the user's other code is named: a forward whose cache is not the
template's (its row always says so), a forward whose cache the assignment leaves to the student
(batch norm, dropout), another convention function it calls (the row says so when that one's own
row did not pass). A run marks such a case with an outcome note ``DEPENDS + NAME + ": " + HOW``.
"""
from __future__ import annotations

#: starts an outcome note naming another of the user's functions the case ran: "depends on your NAME: HOW"
DEPENDS = "depends on your "
OWN_CACHE = "its cache, not the template's "   # HOW for a cache taken from the user's forward: always told
CALLS = "it calls it"   # HOW for another function the checked one calls: told when that one's row fails

UNSOUND = ("failed", "not-implemented", "error", "cannot-check")   # a row whose function may spoil another's


def dependency_notes(rows: list, specs) -> list:
    """Each row with a note naming the user's other functions its cases ran and that may show their
    bugs in it: a forward whose cache is not the template's (always), a forward whose cache the row
    needs or a function it calls (when that one's own row did not pass). Verdicts are unchanged."""
    verdicts = {r.function: r.verdict for r in rows}
    requires = {s.name: s.requires for s in specs}
    for row in rows:
        how = {name: "cache" for name in requires.get(row.function, ()) if name != row.function}
        for note in (n for o in row.outcomes for n in o.notes if n.startswith(DEPENDS)):
            name, _, what = note[len(DEPENDS):].partition(": ")
            how[name] = what if what.startswith(OWN_CACHE) else how.get(name, "calls")
        for name, what in how.items():
            if what.startswith(OWN_CACHE):
                text = (f"its cache comes from your {name} ({what[len('its cache, '):]}): a bug there can show "
                        "here")
            elif verdicts.get(name) in UNSOUND:
                kind = "its cache comes from" if what == "cache" else "it calls"
                text = f"{kind} your {name}, whose row is {verdicts[name]}: a bug there can show here"
            else:
                continue
            if text not in row.notes:
                row.notes.append(text)
    return rows
