"""`fbplan output`'s formats, over resolved values: what a person or a script reads."""

from __future__ import annotations

import json

import pytest

from fbplan.errors import ConfigError
from fbplan.outputs import Outputs, OutputValue
from fbplan.outputs.render import render
from fbplan.secrets.values import Secret

SECRET = "render-test-secret-9c1e"
OUTPUTS = Outputs(
    (
        OutputValue("FB_S3_ENDPOINT", "bridge_endpoint", "https://s3.example", "chosen", "app"),
        OutputValue("FB_KEY_SECRET", "secret", Secret(SECRET), "the sink"),
    )
)


def test_text_masks_secrets_and_says_where_each_value_comes_from() -> None:
    assert render(OUTPUTS, "text", show_secrets=False, single=False) == (
        "FB_S3_ENDPOINT  https://s3.example\n"
        "FB_KEY_SECRET   (sensitive)\n"
        "\n"
        "Where each value comes from:\n"
        "  FB_S3_ENDPOINT: chosen\n"
        "  FB_KEY_SECRET: the sink\n"
    )


def test_json_is_keyed_by_name_with_sensitivity_and_source() -> None:
    document = json.loads(render(OUTPUTS, "json", show_secrets=False, single=False))
    assert document["FB_KEY_SECRET"] == {
        "value": "(sensitive)",
        "sensitive": True,
        "source": "the sink",
    }
    shown = json.loads(render(OUTPUTS, "json", show_secrets=True, single=False))
    assert shown["FB_KEY_SECRET"]["value"] == SECRET


def test_one_value_alone_for_scripts() -> None:
    one = Outputs(OUTPUTS.values[:1])
    assert render(one, "text", show_secrets=False, single=True) == "https://s3.example\n"
    assert render(one, "json", show_secrets=False, single=True) == '"https://s3.example"\n'


def test_dotenv_with_secrets_shown() -> None:
    assert render(OUTPUTS, "dotenv", show_secrets=True, single=False) == (
        f'FB_S3_ENDPOINT="https://s3.example"\nFB_KEY_SECRET="{SECRET}"\n'
    )


def test_dotenv_refuses_a_value_it_cannot_quote_without_showing_it() -> None:
    odd = Outputs((OutputValue("NOTE", "value", 'say "zqx"', "the spec's value"),))
    with pytest.raises(ConfigError) as caught:
        render(odd, "dotenv", show_secrets=False, single=False)
    assert str(caught.value).startswith("output NOTE cannot be written to dotenv:")
    assert "zqx" not in str(caught.value)
