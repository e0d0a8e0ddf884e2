"""The launch form: reads, seed, chunk size. Validated here; errors shown in the form."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label

from ...monitor.runs import LaunchError, LaunchRequest, parse_launch

FIELDS = (("reads", "Reads", "number of synthetic reads"), ("seed", "Seed", "seed of the synthetic data set"),
          ("chunk_size", "Chunk size", "reads per checkpointed chunk"))


class LaunchScreen(ModalScreen[LaunchRequest | None]):
    """Returns a validated :class:`LaunchRequest`, or None when cancelled. A ``submit``
    callback may refuse the request (e.g. the pipeline rejects the input): its error is
    shown in the form and the form stays open."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, defaults: dict[str, int], submit=None) -> None:
        super().__init__()
        self.defaults = defaults
        self.submit = submit

    def compose(self) -> ComposeResult:
        with Vertical(id="launch-box", classes="modal-box"):
            yield Label("Launch a new run", classes="title")
            for name, label, placeholder in FIELDS:
                with Horizontal(classes="field"):
                    yield Label(label, classes="field-label")
                    yield Input(str(self.defaults.get(name, "")), placeholder=placeholder, id=f"f-{name}")
                yield Label("", id=f"err-{name}", classes="field-error")
            yield Label("", id="err-input", classes="field-error")
            with Horizontal(classes="buttons"):
                yield Button("Launch (enter)", variant="success", id="launch")
                yield Button("Cancel (esc)", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#f-reads", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_launch()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "launch":
            self.action_launch()
        else:
            self.action_cancel()

    def show_errors(self, errors: dict[str, str]) -> None:
        for name in ("reads", "seed", "chunk_size", "input"):
            label = self.query_one(f"#err-{name}", Label)
            label.update(errors.get(name, ""))
            label.set_class(name in errors, "-shown")
            if name != "input":
                self.query_one(f"#f-{name}", Input).set_class(name in errors, "-invalid")

    def action_launch(self) -> None:
        values = {name: self.query_one(f"#f-{name}", Input).value for name, _, _ in FIELDS}
        try:
            request = parse_launch(values["reads"], values["seed"], values["chunk_size"])
            if self.submit is not None:
                self.submit(request)
        except LaunchError as exc:
            self.show_errors(exc.errors)
            return
        self.dismiss(request)

    def action_cancel(self) -> None:
        self.dismiss(None)
