"""`requires:` words that are conditions, not commands: userns (lesson 8)."""
from __future__ import annotations

from tutor.lessons import requirements
from tutor.observe import procfs


def test_userns_is_unmet_where_a_sysctl_forbids_it(tmp_path, monkeypatch):
    """The sysctls are read from the one procfs root (observe.procfs.PROC), here a made-up one."""
    (tmp_path / "sys" / "kernel").mkdir(parents=True)
    clone = tmp_path / "sys" / "kernel" / "unprivileged_userns_clone"
    apparmor = tmp_path / "sys" / "kernel" / "apparmor_restrict_unprivileged_userns"
    clone.write_text("1\n")
    apparmor.write_text("0\n")
    monkeypatch.setattr(procfs, "PROC", str(tmp_path))
    assert requirements.is_met("userns") and requirements.userns_blocker() is None
    apparmor.write_text("1\n")
    assert not requirements.is_met("userns")
    reason = requirements.why_unmet("userns")
    assert "forbids" in reason and "kernel.apparmor_restrict_unprivileged_userns = 1" in reason


def test_lesson_8_runs_here_or_says_which_switch_forbids_it():
    from tutor.lessons import load_catalog
    lesson = load_catalog().find("user")
    assert "userns" in lesson.requires
    blocker = requirements.userns_blocker()
    if blocker is None:
        assert "userns" not in lesson.unmet_requirements()
    else:
        assert any(blocker in reason for reason in lesson.missing_requirements())
