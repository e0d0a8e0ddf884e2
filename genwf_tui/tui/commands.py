"""Command palette: every dashboard action, by name."""

from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

from .screens.main import ACTIONS, KEY_NAMES, MainScreen


class DashboardCommands(Provider):
    """Lists every action of the dashboard (the same ones as the keys)."""

    def _commands(self):
        for key, action, short, desc in ACTIONS:
            yield f"{short} ({KEY_NAMES.get(key, key)})", desc, action

    async def _run(self, action: str) -> None:
        screen = self.app.screen
        if not isinstance(screen, MainScreen):
            screen = next((s for s in self.app.screen_stack if isinstance(s, MainScreen)), None)
        if screen is not None:
            await screen.run_action(action)

    async def discover(self) -> Hits:
        for name, desc, action in self._commands():
            yield DiscoveryHit(name, partial(self._run, action), help=desc)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, desc, action in self._commands():
            score = max(matcher.match(name), matcher.match(desc) * 0.8)
            if score > 0:
                yield Hit(score, matcher.highlight(name), partial(self._run, action), help=desc)
