"""Flask-AppBuilder's security manager over the server's own users, roles and tokens.

Flask-AppBuilder brings its own user, role and permission tables; this manager uses
none of them. Who is logged in is the user of the session's API token
(:mod:`polyaxon_webapp.sessions`); what they may see and do is asked of the
``polyaxon_authorize`` hook, exactly as the API asks it. So there is one identity: the
CLI, the API and the pages see the same users and the same roles.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from flask import abort, flash, redirect, request, session, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.manager import BaseSecurityManager
from flask_login import LoginManager, current_user, login_user, logout_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from polyaxon_core.accounts import AuthenticatedUser
from polyaxon_core.api.extensions import server
from polyaxon_core.api.security import LOCAL_USER, is_allowed
from polyaxon_core.permissions import USERS_MANAGE
from polyaxon_webapp.sessions import end_session, load_user, start_session

F = TypeVar("F", bound=Callable[..., Any])

#: menu entries only organization owners and admins see (and whose pages refuse others)
ADMIN_MENUS = frozenset({"Users", "Teams", "Plugins", "Administration"})


def account() -> AuthenticatedUser | None:
    """Who is looking at the page: the session's user, the local owner of a server
    without authentication, or None (not logged in)."""
    if not server.config.auth:
        return LOCAL_USER
    if current_user.is_authenticated:
        user: AuthenticatedUser = current_user.account
        return user
    return None


def may(action: str, resource: Mapping[str, Any]) -> bool:
    """Whether the page's user may perform ``action`` on ``resource`` (the API's answer)."""
    user = account()
    return user is not None and is_allowed(user, action, resource)


def logged_in(view: F) -> F:
    """The page needs a logged-in user: anyone else is sent to the login page, and back."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if account() is None:
            if session.pop("_user_id", None) is not None:
                flash("Your session has ended (it expired, or was revoked); log in again.",
                      "warning")
            return redirect(url_for("AuthView.login", next=request.full_path.rstrip("?")))
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def require(action: str, resource: Mapping[str, Any]) -> None:
    """A 403 page unless the page's user may perform ``action`` on ``resource``."""
    if not may(action, resource):
        abort(403, description=f"you may not {action.replace('.', ' ')} here")


class LoginForm(FlaskForm):  # type: ignore[misc]
    username = StringField("Username", validators=[DataRequired(), Length(max=150)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1024)])


class AuthView(BaseView):  # type: ignore[misc]
    """Log in with the server's users (the same limits and audit as ``POST /users/token``);
    log out with a POST that revokes the session's token."""

    route_base = ""
    default_view = "login"

    @expose("/login/", methods=["GET", "POST"])
    def login(self) -> Any:
        if account() is not None:
            return redirect(self._next_url())
        form = LoginForm()
        if form.validate_on_submit():
            message = self._log_in(form.username.data, form.password.data)
            if message is None:
                return redirect(self._next_url())
            flash(message, "danger")
        elif request.method == "POST":
            flash(_form_errors(form), "danger")
        return self.render_template("polyaxon/login.html", form=form, title="Log in")

    def _log_in(self, username: str, password: str) -> str | None:
        """Log the browser in; the message to show when that is refused."""
        from polyaxon_core.accounts import HashingBusy, check_password
        from polyaxon_core.api.audit import audit_request
        from polyaxon_core.domain import logins

        name, address = username[:150], request.remote_addr or "unknown"
        limits = server.config.login_limits
        with server.session() as db:
            refusal = logins.check(db, limits, name, address)
            if refusal is not None:
                audit_request(db, "login.throttled", f"user:{name}", actor=name,
                              reason=refusal.reason)
                return f"{refusal.reason}: try again in {refusal.retry_after} seconds"
        key: str | None = None
        try:
            with server.session() as db:
                user = check_password(db, name, password)
                logins.note(db, limits, name, address, succeeded=user is not None)
                if user is None:
                    audit_request(db, "login.failed", f"user:{name}", actor=name)
                else:
                    key, token_id = start_session(user)
                    audit_request(db, "login.succeeded", f"user:{name}", actor=name)
                    audit_request(db, "token.issued", f"token:{token_id}", actor=name,
                                  user=name, name="web session")
        except HashingBusy as exc:
            return str(exc)
        if key is None:
            return "invalid username or password"
        web_user = load_user(key)
        if web_user is None:
            return "invalid username or password"
        session.clear()  # nothing of the anonymous session carries over into the new one
        login_user(web_user, remember=False)
        return None

    @staticmethod
    def _next_url() -> str:
        target = request.args.get("next") or ""
        # only a path of this server: never an absolute or scheme-relative URL
        if not target.startswith("/") or target.startswith("//") or "\\" in target:
            return url_for("ProjectsView.list")
        return target

    @expose("/logout/", methods=["POST"])
    def logout(self) -> Response:
        form = FlaskForm()
        if not form.validate_on_submit():
            abort(400, description="the logout form expired; reload the page and log out again")
        if current_user.is_authenticated:
            end_session(current_user.key)
        logout_user()
        session.clear()
        flash("You are logged out.", "info")
        return redirect(url_for("AuthView.login"))


def _form_errors(form: FlaskForm) -> str:
    problems = [f"{getattr(form, name).label.text}: {'; '.join(errors)}"
                if name in form._fields and name != "csrf_token" else "; ".join(errors)
                for name, errors in form.errors.items()]
    return " ".join(problems) or "the form could not be read"


class PolyaxonSecurityManager(BaseSecurityManager):  # type: ignore[misc]
    """Users, roles and permissions are the server's; Flask-AppBuilder keeps no tables."""

    def create_login_manager(self, app: Any) -> LoginManager:
        manager = LoginManager(app)
        manager.login_view = "AuthView.login"
        manager.login_message = None
        manager.user_loader(load_user)
        return manager

    def create_jwt_manager(self, app: Any) -> None:
        return None  # the API has its own tokens

    def create_limiter(self, app: Any) -> None:
        return None  # logins are limited by the server's login limits

    def register_views(self) -> None:
        self.auth_view = self.appbuilder.add_view_no_menu(AuthView())

    @property
    def current_user(self) -> Any:
        return current_user if current_user.is_authenticated else None

    def has_access(self, permission_name: str, view_name: str) -> bool:
        """Menus: every logged-in user sees the pages, admins also the admin ones. Each
        page checks its own resource with :func:`require`."""
        user = account()
        if user is None:
            return False
        if view_name in ADMIN_MENUS:
            return is_allowed(user, USERS_MANAGE, {"kind": "organization", "owner": "default"})
        return True

    def is_item_public(self, permission_name: str, view_name: str) -> bool:
        return False

    def load_user(self, pk: Any) -> Any:
        return load_user(str(pk))

    # Flask-AppBuilder's permission tables are not used: nothing to record
    def add_permissions_view(self, base_permissions: Any, view_menu: Any) -> None:
        return None

    def add_permissions_menu(self, view_menu_name: Any) -> None:
        return None

    def security_cleanup(self, baseviews: Any, menus: Any) -> None:
        return None

    def get_user_menu_access(self, menu_names: Any = None) -> set[str]:
        return {name for name in (menu_names or []) if self.has_access("menu_access", name)}
