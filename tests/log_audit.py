"""The logs of a whole test run hold no NHS number and no token (issue 18, item 1).

CI (`.ci/run`) sets `HOMEFIRST_TEST_LOG_DIR`: every service, listener and command the tests start
writes its output there (tests/servers.py copies each service's log in when it stops), and each
test process adds the service's own JSON log handler to its root logger (tests/conftest.py), so
the in-process application's lines land there too. After the run,

    python -m tests.log_audit DIR [--logs DIR ...]

reads every file under DIR, and every `*.log` file under each `--logs` directory (the runs'
pytest temporary directories, where the listeners' and servers' own logs are), and exits 1
naming each line that holds a ten-digit number passing the NHS number check (written plainly,
or 3-3-4 with spaces or hyphens) or something shaped like a HomeFirst token. The report shows
where, never the value.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

from app.calc.nhs_number import is_valid_nhs_number
from app.observability.logs import NHS_SHAPED, TOKEN_SHAPED

# `homefirst serve --demo` prints the demo user's token on the console once, by design (as
# `homefirst tokens create` does), for the person trying it; its console output is kept with the
# logs, so that one announcement is let through. Any other line with a token is a finding.
DEMO_TOKEN_LINE = "demo token (user "


def findings(text: str) -> Iterator[str]:
    """What is wrong with one line: 'NHS number' or 'token', once per occurrence."""
    if text.startswith(DEMO_TOKEN_LINE) and len(list(TOKEN_SHAPED.finditer(text))) == 1:
        text = text[: text.rindex(": ")]  # the announced token, not the rest of the line
    for match in NHS_SHAPED.finditer(text):
        if is_valid_nhs_number("".join(match.groups())):
            yield "NHS number"
    for _ in TOKEN_SHAPED.finditer(text):
        yield "token"


def audit(directories: list[Path], pattern: str = "*") -> tuple[int, list[str]]:
    """(files read, problems as 'file:line: what')."""
    problems: list[str] = []
    files = 0
    for directory in directories:
        for path in sorted(p for p in directory.rglob(pattern) if p.is_file()):
            files += 1
            with path.open(errors="replace") as lines:
                for number, line in enumerate(lines, 1):
                    problems.extend(f"{path}:{number}: {what}" for what in findings(line))
    return files, problems


def main(argv: list[str]) -> int:
    everything = [Path(a) for a in argv[:1] if Path(a).is_dir()]
    logs = [Path(a) for a in argv[2:] if argv[1:2] == ["--logs"] and Path(a).is_dir()]
    files, problems = audit(everything)
    more_files, more_problems = audit(logs, "*.log")
    files, problems = files + more_files, problems + more_problems
    out = sys.stdout
    out.write(f"log audit: {files} files read, {len(problems)} lines with an NHS number or token\n")
    for problem in problems[:200]:
        out.write(f"  {problem}\n")
    return 1 if problems or files == 0 else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
