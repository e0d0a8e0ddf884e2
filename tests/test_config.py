"""ConfigBootstrap: defaults < release.toml < environment < flags, merged per key."""

from __future__ import annotations

import pytest

from genwf_tui.config import ConfigBootstrap, ConfigError


def boot(tmp_path, env=None, toml=None):
    if toml is not None:
        (tmp_path / "release.toml").write_text(toml)
    return ConfigBootstrap(environ=env or {}, cwd=tmp_path)


def test_defaults(tmp_path):
    cfg = boot(tmp_path).load()
    assert cfg.target_granularity_ratio == 100.0
    assert cfg.recovery.stale_threshold_secs == 300
    assert cfg.storage.url == "workflow.db" and cfg.node_id.startswith("node-")


def test_layers_merge_per_key(tmp_path):
    toml = """
[genomic_pipeline]
target_granularity_ratio = 50.0
[genomic_pipeline.node]
id = "from-toml"
[genomic_pipeline.recovery]
stale_threshold_secs = 120
auto_recover = true
"""
    env = {"GENOMIC_PIPELINE__RECOVERY__STALE_THRESHOLD_SECS": "30", "GENOMIC_PIPELINE__NODE__ID": "n2"}
    cfg = boot(tmp_path, env, toml).load({"node.id": "flag-node"}, {"node.id": "--node-id"})
    assert cfg.target_granularity_ratio == 50.0  # toml
    assert cfg.recovery.auto_recover is True  # toml, untouched by env
    assert cfg.recovery.stale_threshold_secs == 30.0  # env beats toml
    assert cfg.node.id == "flag-node"  # flag beats env
    assert cfg.sources["recovery.stale_threshold_secs"] == "env GENOMIC_PIPELINE__RECOVERY__STALE_THRESHOLD_SECS"
    assert cfg.sources["target_granularity_ratio"] == "release.toml"


def test_app_config_path(tmp_path):
    other = tmp_path / "other.toml"
    other.write_text("[genomic_pipeline.pipeline]\nchunk_size = 1234\n")
    cfg = ConfigBootstrap(environ={"APP_CONFIG_PATH": str(other)}, cwd=tmp_path).load()
    assert cfg.pipeline.chunk_size == 1234
    with pytest.raises(ConfigError, match="APP_CONFIG_PATH"):
        ConfigBootstrap(environ={"APP_CONFIG_PATH": str(tmp_path / "missing.toml")}, cwd=tmp_path).load()


@pytest.mark.parametrize("toml, needle", [
    ("[genomic_pipeline.recovery]\nstale_threshold_secs = -1\n", "recovery.stale_threshold_secs: must be greater than 0"),
    ("[genomic_pipeline.recovery]\nstale_threshold_secs = 'soon'\n", "expected float"),
    ("[genomic_pipeline.storage]\nurl = 'mongodb://x/y'\n", "unknown storage scheme"),
    ("[genomic_pipeline.nonsense]\nx = 1\n", "unknown key"),
    ("not toml at all [", "not valid TOML"),
])
def test_bad_toml_values_name_key_and_source(tmp_path, toml, needle):
    with pytest.raises(ConfigError, match="release.toml") as info:
        boot(tmp_path, toml=toml).load()
    assert needle in str(info.value)


def test_bool_and_int_coercion_from_env(tmp_path):
    cfg = boot(tmp_path, {"GENOMIC_PIPELINE__RECOVERY__AUTO_RECOVER": "yes",
                          "GENOMIC_PIPELINE__PIPELINE__CHUNK_SIZE": "2000"}).load()
    assert cfg.recovery.auto_recover is True and cfg.pipeline.chunk_size == 2000
    with pytest.raises(ConfigError, match="expected bool"):
        boot(tmp_path, {"GENOMIC_PIPELINE__RECOVERY__AUTO_RECOVER": "maybe"}).load()


def test_password_never_in_config_errors(tmp_path):
    with pytest.raises(ConfigError) as info:
        boot(tmp_path, {"GENOMIC_PIPELINE__STORAGE__URL": "postgresql://u:s3cret@h/"}).load()
    assert "s3cret" not in str(info.value)


def test_calling_settings_reach_the_call_step(tmp_path):
    from genwf_tui import pipeline

    cfg = boot(tmp_path, env={"GENOMIC_PIPELINE__CALLING__MIN_QUAL": "30"},
               toml="[genomic_pipeline.calling]\nmin_depth = 7\n").load()
    params = pipeline._call_params(pipeline.make_input(cfg, 1000))
    assert (params.min_qual, params.min_depth) == (30.0, 7)
    # a run recorded before [calling] existed resumes with the caller's defaults
    old = pipeline._call_params({"reads": 1000})
    assert (old.min_qual, old.min_depth) == (20.0, 4)


def test_bad_calling_value_names_key_and_source(tmp_path):
    with pytest.raises(ConfigError, match=r"calling\.min_depth.*GENOMIC_PIPELINE__CALLING__MIN_DEPTH"):
        boot(tmp_path, env={"GENOMIC_PIPELINE__CALLING__MIN_DEPTH": "-1"}).load()
    with pytest.raises(ConfigError, match=r"calling\.ploidy: unknown key"):
        boot(tmp_path, toml="[genomic_pipeline.calling]\nploidy = 1\n").load()
