"""The admin extension point: how an upper app adds to a lower app's admin pages.

The dependency direction (``docs/architecture.md``) forbids crm from importing
telephony or campaigns, yet the customer page shows calls and campaign leads. So the
lower app owns an :class:`AdminExtensions` registry per extensible ModelAdmin and renders
whatever is registered; upper apps register panels, columns, inlines, links and actions
from their ``AppConfig.ready()``. No ModelAdmin is ever unregistered and re-registered,
so nothing depends on INSTALLED_APPS order.

Example, in ``telephony/apps.py``::

    def ready(self):
        from crm.admin_extensions import Panel, customer_admin_extensions
        customer_admin_extensions.add_panel(
            Panel(key="history", template="admin/telephony/customer/_history.html",
                  context=history_panel_context, media_css=("telephony/history.css",))
        )
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from django.contrib.admin import ListFilter
from django.contrib.admin.options import InlineModelAdmin
from django.db.models import Model
from django.http import HttpRequest
from django.urls import path

# (request, obj) -> the panel's context, or None when it has nothing to show this user.
PanelContext = Callable[[HttpRequest, Any], dict[str, Any] | None]


# Where a change page shows a panel: below the form (the default), or above it, where the
# customer page keeps what an agent works with (docs/pages.md, "Customer page").
AFTER_FORM = "after_form"
BEFORE_FORM = "before_form"


@dataclass(frozen=True)
class Panel:
    """A block on a change page, below the form (or above it: ``place=BEFORE_FORM``,
    outside the form, so a panel there may hold a form of its own): a template and what
    it needs."""

    key: str
    template: str
    context: PanelContext
    order: int = 100
    media_css: Sequence[str] = ()
    place: str = AFTER_FORM


@dataclass(frozen=True)
class Column:
    """A changelist column: ``render(obj)`` gives the cell (HTML-safe or text).

    ``prepare(objs)``, when given, is called once with the page's objects before any cell
    is rendered: the place to load what the column shows in one query for the page.
    """

    name: str
    description: str
    render: Callable[[Any], Any]
    prepare: Callable[[list[Any]], None] | None = None
    after: str | None = None  # insert after this column; at the end when None


@dataclass(frozen=True)
class Link:
    """A link on an object's page (``url(request, obj)`` -> a URL, or None: not shown)."""

    key: str
    label: str
    url: Callable[[HttpRequest, Any], str | None]


@dataclass(frozen=True)
class AdminView:
    """A URL of the extended ModelAdmin, served as ``view(modeladmin, request, **kwargs)``
    behind the admin's login and named ``admin:<name>`` (an upper app's row action)."""

    name: str
    route: str  # relative to the ModelAdmin's URLs, e.g. "reputation/<int:pk>/<str:verb>/"
    view: Callable[..., Any]


@dataclass
class AdminExtensions:
    """What upper apps have added to one ModelAdmin. Filled at start-up, read per request."""

    name: str
    panels: list[Panel] = field(default_factory=list)
    columns: list[Column] = field(default_factory=list)
    inlines: list[type[InlineModelAdmin]] = field(default_factory=list)
    links: list[Link] = field(default_factory=list)
    actions: list[Callable[..., Any]] = field(default_factory=list)
    # Sidebar filters (ListFilter classes) after the admin's own ``list_filter``.
    list_filters: list[type[ListFilter]] = field(default_factory=list)
    # Blocks above a changelist (``context(request, None)``) and on an object's delete
    # confirmation page (``context(request, obj)``): a dashboard, a warning.
    changelist_panels: list[Panel] = field(default_factory=list)
    delete_panels: list[Panel] = field(default_factory=list)
    views: list[AdminView] = field(default_factory=list)

    def _add(self, items: list[Any], item: Any, key: str) -> None:
        # ready() may run twice (tests, autoreload): registering again replaces.
        items[:] = [i for i in items if getattr(i, key) != getattr(item, key)]
        items.append(item)

    def add_panel(self, panel: Panel) -> None:
        self._add(self.panels, panel, "key")
        self.panels.sort(key=lambda p: p.order)

    def add_changelist_panel(self, panel: Panel) -> None:
        self._add(self.changelist_panels, panel, "key")
        self.changelist_panels.sort(key=lambda p: p.order)

    def add_delete_panel(self, panel: Panel) -> None:
        self._add(self.delete_panels, panel, "key")
        self.delete_panels.sort(key=lambda p: p.order)

    def add_column(self, column: Column) -> None:
        self._add(self.columns, column, "name")

    def add_inline(self, inline: type[InlineModelAdmin]) -> None:
        self._add(self.inlines, inline, "__name__")

    def add_link(self, link: Link) -> None:
        self._add(self.links, link, "key")

    def add_action(self, action: Callable[..., Any]) -> None:
        self._add(self.actions, action, "__name__")

    def add_view(self, view: AdminView) -> None:
        self._add(self.views, view, "name")

    def add_list_filter(self, list_filter: type[ListFilter]) -> None:
        self._add(self.list_filters, list_filter, "__name__")

    def panel_contexts(
        self, request: HttpRequest, obj: Model | None, panels: list[Panel] | None = None
    ) -> list[dict[str, Any]]:
        shown = []
        for panel in self.panels if panels is None else panels:
            context = panel.context(request, obj)
            if context is not None:
                shown.append({"key": panel.key, "template": panel.template, **context})
        return shown

    def link_items(self, request: HttpRequest, obj: Model) -> list[tuple[str, str]]:
        return [(link.label, url) for link in self.links if (url := link.url(request, obj))]

    def css(self, panels: list[Panel] | None = None) -> list[str]:
        panels = self.panels if panels is None else panels
        return sorted({path for panel in panels for path in panel.media_css})


class ExtensibleAdminMixin:
    """Makes a ModelAdmin render its :class:`AdminExtensions` (``extensions``).

    The change page gets ``extension_panels``, ``extension_links`` and ``extension_css``
    in its context (``admin/extensible_change_form.html`` renders them); columns join
    ``list_display``; inlines, actions, list filters and views (URLs) join the admin's own. The
    changelist gets its ``changelist_panels`` (``admin/extensible_change_list.html``), the
    delete confirmation its ``delete_panels`` (``admin/extensible_delete_confirmation.html``).
    A column's ``prepare`` runs once per page with the page's objects.
    """

    extensions: AdminExtensions

    def get_list_display(self, request: HttpRequest) -> Any:
        columns = list(super().get_list_display(request))  # type: ignore[misc]
        for column in self.extensions.columns:
            cell = _column_callable(column)
            # ``after`` names a field or a callable column (by its ``__name__``).
            names = [c if isinstance(c, str) else getattr(c, "__name__", None) for c in columns]
            position = names.index(column.after) + 1 if column.after in names else None
            if position is None:
                columns.append(cell)
            else:
                columns.insert(position, cell)
        return columns

    def get_urls(self) -> list[Any]:
        # Before the admin's own patterns: its "<path:object_id>/" would take them.
        return [
            path(
                view.route,
                self.admin_site.admin_view(partial(view.view, self)),  # type: ignore[attr-defined]
                name=view.name,
            )
            for view in self.extensions.views
        ] + super().get_urls()  # type: ignore[misc]

    def get_list_filter(self, request: HttpRequest) -> Any:
        return [*super().get_list_filter(request), *self.extensions.list_filters]  # type: ignore[misc]

    def get_inlines(self, request: HttpRequest, obj: Any) -> list[Any]:
        return [*super().get_inlines(request, obj), *self.extensions.inlines]  # type: ignore[misc]

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        actions = super().get_actions(request)  # type: ignore[misc]
        for action in self.extensions.actions:
            permissions = getattr(action, "allowed_permissions", ())
            if all(
                getattr(self, f"has_{p}_permission")(request)  # the admin's own rule
                for p in permissions
            ):
                name = action.__name__
                description = getattr(action, "short_description", name.replace("_", " "))
                actions[name] = (action, name, description)
        return actions

    def extension_context(self, request: HttpRequest, obj: Model | None) -> dict[str, Any]:
        if obj is None:
            return {}
        panels = self.extensions.panels
        return {
            "extension_panels_before": self.extensions.panel_contexts(
                request, obj, [p for p in panels if p.place == BEFORE_FORM]
            ),
            "extension_panels": self.extensions.panel_contexts(
                request, obj, [p for p in panels if p.place != BEFORE_FORM]
            ),
            "extension_links": self.extensions.link_items(request, obj),
            "extension_css": self.extensions.css(),
        }

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> Any:
        base = super().get_changelist(request, **kwargs)  # type: ignore[misc]
        preparers = [c.prepare for c in self.extensions.columns if c.prepare is not None]
        if not preparers:
            return base

        class PreparedChangeList(base):  # type: ignore[valid-type,misc]
            def get_results(self, request: HttpRequest) -> None:
                super().get_results(request)
                page = list(self.result_list)  # evaluates (and caches) the page's rows
                for prepare in preparers:
                    prepare(page)

        return PreparedChangeList

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> Any:
        panels = self.extensions.changelist_panels
        extra = {
            "extension_panels": self.extensions.panel_contexts(request, None, panels),
            "extension_css": self.extensions.css(panels),
            **(extra_context or {}),
        }
        return super().changelist_view(request, extra)  # type: ignore[misc]

    def delete_view(self, request: HttpRequest, object_id: str, extra_context: Any = None) -> Any:
        panels = self.extensions.delete_panels
        obj = self.get_object(request, object_id) if panels else None  # type: ignore[attr-defined]
        extra = {
            "extension_panels": self.extensions.panel_contexts(request, obj, panels)
            if obj is not None
            else [],
            "extension_css": self.extensions.css(panels),
            **(extra_context or {}),
        }
        return super().delete_view(request, object_id, extra)  # type: ignore[misc]

    def render_change_form(
        self, request: HttpRequest, context: dict[str, Any], *args: Any, **kwargs: Any
    ) -> Any:
        context.update(self.extension_context(request, kwargs.get("obj")))
        return super().render_change_form(request, context, *args, **kwargs)  # type: ignore[misc]


def _column_callable(column: Column) -> Callable[[Any], Any]:
    def cell(obj: Any) -> Any:
        return column.render(obj)

    cell.__name__ = column.name
    cell.short_description = column.description  # type: ignore[attr-defined]
    return cell


@dataclass
class NumberLinks:
    """Where the admin links a phone number: an upper app's page about one number (the
    number view telephony registers). Unset, numbers show as plain text."""

    url_for: Callable[[str], str] | None = None

    def url(self, e164: str) -> str | None:
        return self.url_for(e164) if self.url_for is not None else None


number_links = NumberLinks()


@dataclass(frozen=True)
class AdminPage:
    route: str
    view: Callable[..., Any]
    name: str


@dataclass
class AdminPages:
    """Admin pages of their own, about no one model (telephony's number view): served
    under ``/admin/`` behind the admin's login, reversed as ``admin:<name>``."""

    pages: list[AdminPage] = field(default_factory=list)

    def add(self, route: str, view: Callable[..., Any], *, name: str) -> None:
        if any(page.name == name for page in self.pages):
            return  # ready() may run twice (tests); one page per name
        self.pages.append(AdminPage(route=route, view=view, name=name))


admin_pages = AdminPages()

# (e164s) -> {e164: [badge HTML, ...]}: called once per page with the numbers it shows.
NumberBadgeSource = Callable[[list[str]], dict[str, list[Any]]]


@dataclass
class NumberBadges:
    """Badges beside a number wherever the customer page lists it (e.g. do-not-call, from
    the app that keeps that list); crm's own (SMS, opted out of SMS) are drawn by crm."""

    sources: dict[str, NumberBadgeSource] = field(default_factory=dict)

    def add(self, key: str, source: NumberBadgeSource) -> None:
        self.sources[key] = source

    def for_numbers(self, e164s: list[str]) -> dict[str, list[Any]]:
        badges: dict[str, list[Any]] = {}
        for key in sorted(self.sources):
            for e164, items in self.sources[key](e164s).items():
                badges.setdefault(e164, []).extend(items)
        return badges


number_badges = NumberBadges()

# The registries crm's own admin pages offer. Upper apps fill them from AppConfig.ready().
customer_admin_extensions = AdminExtensions("crm.Customer")
phone_number_admin_extensions = AdminExtensions("crm.PhoneNumber")
# The admin home (crm/admin_site.py): each Panel is a dashboard section, its context
# called as ``context(request, None)``; return None to hide it from this user.
dashboard_extensions = AdminExtensions("admin.index")


@dataclass
class NumberFlag:
    key: str  # also the field crm's API answers on each number, e.g. "do_not_call"
    label: str  # the badge, e.g. "Do not call"
    lookup: Callable[[list[str]], set[str]]  # which of these E.164 numbers carry it


@dataclass
class NumberFlags:
    """Facts an upper app knows about a number that crm shows wherever it shows the
    number (campaigns registers "do not call"; crm never imports campaigns)."""

    flags: dict[str, NumberFlag] = field(default_factory=dict)

    def add(self, flag: NumberFlag) -> None:
        self.flags[flag.key] = flag

    def of(self, numbers: list[str]) -> dict[str, list[NumberFlag]]:
        """``{e164: [flags]}`` for the numbers that carry any: one query a flag."""
        found: dict[str, list[NumberFlag]] = {}
        if not numbers:
            return found
        for flag in self.flags.values():
            for e164 in flag.lookup(numbers):
                found.setdefault(e164, []).append(flag)
        return found

    def has(self, key: str, e164: str) -> bool:
        flag = self.flags.get(key)
        return flag is not None and e164 in flag.lookup([e164])


number_flags = NumberFlags()
