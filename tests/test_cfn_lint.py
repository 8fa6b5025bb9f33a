"""cfn-lint over every synthesized template: zero errors, and only known warnings ignored."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

# Warnings ignored, each a known CDK pattern rather than a template defect:
IGNORED = {
    # CDK's own custom-resource providers (e.g. Custom::VpcRestrictDefaultSG) add an explicit
    # DependsOn on their role next to the GetAtt that already implies it; harmless redundancy.
    "W3005": "redundant DependsOn emitted by CDK custom-resource providers",
}


def test_cfn_lint_finds_no_errors(example_cdk_out: Path) -> None:
    templates = sorted(str(p) for p in example_cdk_out.glob("*.template.json"))
    assert len(templates) >= 8
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "cfn-lint"),
            "--format",
            "json",
            "--ignore-checks",
            *IGNORED,
            "--",
            *templates,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    findings = json.loads(result.stdout or "[]")
    problems = [f"{f['Rule']['Id']} {Path(f['Filename']).name}: {f['Message']}" for f in findings]
    assert problems == [], "\n".join(problems)
    assert result.returncode == 0, result.stderr
