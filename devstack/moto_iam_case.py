"""IAM user, group and role names compared without regard to case, as AWS compares them.

AWS: "Names of users, groups, roles, and instance profiles must be unique within the account.
They aren't distinguished by case" (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html).
"pete" and "PETE" are one user: creating the other spelling fails with EntityAlreadyExists, and
every operation that names the user in another case acts on the stored user and answers with
the spelling it was created with. moto 5.2.5 compares names exactly, so "PETE" would be a second
user, and an offboarding given another case would act on nobody.

What is patched, in the process that runs moto (in-process mock or threaded server):

- Storage. ``IAMBackend.users`` and ``IAMBackend.groups`` become ``NameDict``: found by any case
  of the name, while iteration, ``keys()`` and ``items()`` give the stored spelling. Every moto
  code path that indexes, tests (``in``), ``get``s, ``pop``s or ``del``s them then finds the one
  entity, and creating a second spelling raises moto's own duplicate error ("User Pete already
  exists"). Group membership is a list of ``User`` objects, compared by identity, so it follows.
  Installed by ``IAMBackend.__init__``, which moto also runs on every reset.
- Roles are kept by id and found by a loop over names: ``get_role`` and the duplicate check of
  ``create_role`` compare names folded; ``delete_role`` and ``get_instance_profiles_for_role``
  are given the stored spelling, since they compare names once more.
- Requests. ``UserName``, ``GroupName`` and ``RoleName`` read by ``IamResponse`` become the
  stored spelling when the entity exists (not for the Create call naming a new one), so answers
  that repeat the request's name (ListMFADevices, GetGroupPolicy, GetRolePolicy) carry the
  stored one, as AWS's do, and so does the ARN ``moto_ext`` authorizes a request against.
- ``UpdateUser`` refuses a new name another user has in any case (moto checks none and would
  overwrite that user); ``UploadSigningCertificate`` records the stored spelling.

Not covered: instance profile and managed policy names, which AWS also compares folded, stay
case-sensitive here; the app uses neither.
"""

from __future__ import annotations

import functools
import inspect
import threading
from collections.abc import Callable, ItemsView, Iterator, KeysView, Mapping, ValuesView
from typing import Any

from moto.iam.exceptions import EntityAlreadyExists, NotFoundException
from moto.iam.models import IAMBackend, iam_backends
from moto.iam.responses import IamResponse

_lock = threading.Lock()
# Marked on the class rather than in this module, so that importing the module under two names
# still patches once.
_MARK = "_iam_case_applied"
_MISSING = object()


def fold(name: Any) -> Any:
    """The form names are compared in (IAM names are ASCII)."""
    return name.lower() if isinstance(name, str) else name


class _Keys(KeysView):
    def __iter__(self) -> Iterator[Any]:
        return iter([name for name, _ in self._mapping._pairs()])  # type: ignore[attr-defined]


class _Values(ValuesView):
    def __iter__(self) -> Iterator[Any]:
        return iter([value for _, value in self._mapping._pairs()])  # type: ignore[attr-defined]


class _Items(ItemsView):
    def __iter__(self) -> Iterator[tuple[Any, Any]]:
        return iter(self._mapping._pairs())  # type: ignore[attr-defined]


class NameDict(dict):
    """name -> entity, found by any case of the name; iterating gives the names as stored.

    Held as ``fold(name) -> (name, entity)``: each operation is a single operation on the
    underlying dict, and iteration works on a snapshot, so it is as safe between the threaded
    server's request threads as the plain dict it replaces. Setting a name in another case
    replaces the entry and its spelling (moto's UpdateUser sets the new name after popping).
    """

    __slots__ = ()

    def __init__(self, other: Any = (), /, **kwargs: Any) -> None:
        super().__init__()
        self.update(other, **kwargs)

    def _pairs(self) -> list[tuple[Any, Any]]:
        return list(dict.values(self))  # one C-level copy: a consistent snapshot

    def __getitem__(self, name: Any) -> Any:
        try:
            return dict.__getitem__(self, fold(name))[1]
        except KeyError:
            raise KeyError(name) from None

    def __setitem__(self, name: Any, value: Any) -> None:
        dict.__setitem__(self, fold(name), (name, value))

    def __delitem__(self, name: Any) -> None:
        try:
            dict.__delitem__(self, fold(name))
        except KeyError:
            raise KeyError(name) from None

    def __contains__(self, name: object) -> bool:
        return dict.__contains__(self, fold(name))

    def __iter__(self) -> Iterator[Any]:
        return iter(self.keys())

    def __reversed__(self) -> Iterator[Any]:
        return reversed([name for name, _ in self._pairs()])

    def get(self, name: Any, default: Any = None) -> Any:
        pair = dict.get(self, fold(name))
        return default if pair is None else pair[1]

    def pop(self, name: Any, default: Any = _MISSING) -> Any:
        pair = dict.pop(self, fold(name), None)
        if pair is None:
            if default is _MISSING:
                raise KeyError(name)
            return default
        return pair[1]

    def popitem(self) -> tuple[Any, Any]:
        return dict.popitem(self)[1]

    def setdefault(self, name: Any, default: Any = None) -> Any:
        return dict.setdefault(self, fold(name), (name, default))[1]

    def update(self, other: Any = (), /, **kwargs: Any) -> None:
        if isinstance(other, Mapping):
            other = other.items()
        elif hasattr(other, "keys"):
            other = [(name, other[name]) for name in other.keys()]
        for name, value in [*other, *kwargs.items()]:
            self[name] = value

    def keys(self) -> KeysView:  # type: ignore[override]
        return _Keys(self)

    def values(self) -> ValuesView:  # type: ignore[override]
        return _Values(self)

    def items(self) -> ItemsView:  # type: ignore[override]
        return _Items(self)

    def copy(self) -> NameDict:
        return type(self)(self.items())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Mapping):
            return dict(self.items()) == dict(other.items())
        return NotImplemented

    def __ne__(self, other: object) -> bool:
        equal = self.__eq__(other)
        return equal if equal is NotImplemented else not equal

    __hash__ = None

    def __or__(self, other: Any) -> NameDict:
        if not isinstance(other, Mapping):
            return NotImplemented
        merged = self.copy()
        merged.update(other)
        return merged

    def __ror__(self, other: Any) -> NameDict:
        if not isinstance(other, Mapping):
            return NotImplemented
        merged = type(self)(other)
        merged.update(self)
        return merged

    def __ior__(self, other: Any) -> NameDict:
        self.update(other)
        return self

    def __repr__(self) -> str:
        return f"{type(self).__name__}({dict(self.items())!r})"


def _fold_backend(backend: IAMBackend) -> None:
    for attribute in ("users", "groups"):
        current = backend.__dict__.get(attribute)
        if current is not None and not isinstance(current, NameDict):
            setattr(backend, attribute, NameDict(current))


# Backend: the model, reachable as iam_backends[account][partition].<method>.


def _init(self: IAMBackend, *args: Any, **kwargs: Any) -> None:
    _original["__init__"](self, *args, **kwargs)  # also what BaseBackend.reset runs
    _fold_backend(self)


def _get_role(self: IAMBackend, role_name: str) -> Any:
    roles = list(self.get_roles())
    for role in roles:  # the exact spelling first, should two exist from before the patch
        if role.name == role_name:
            return role
    for role in roles:
        if fold(role.name) == fold(role_name):
            return role
    raise NotFoundException(f"Role {role_name} not found")  # moto's own message


def _create_role(self: IAMBackend, role_name: str, *args: Any, **kwargs: Any) -> Any:
    if any(fold(role.name) == fold(role_name) for role in self.get_roles()):
        raise EntityAlreadyExists(f"Role with name {role_name} already exists.")
    return _original["create_role"](self, role_name, *args, **kwargs)


def _update_user(
    self: IAMBackend, user_name: str, new_path: str | None = None, new_user_name: str | None = None
) -> None:
    user = self.users.get(user_name)
    if user is not None and new_user_name:
        other = self.users.get(new_user_name)
        if other is not None and other is not user:  # a change of case only is a rename
            raise EntityAlreadyExists(f"User {new_user_name} already exists")
    _original["update_user"](self, user_name, new_path, new_user_name)


def _stored_user(backend: IAMBackend, name: Any) -> Any:
    user = backend.users.get(name) if isinstance(name, str) else None
    return user.name if user is not None else name


def _stored_group(backend: IAMBackend, name: Any) -> Any:
    group = backend.groups.get(name) if isinstance(name, str) else None
    return group.name if group is not None else name


def _stored_role(backend: IAMBackend, name: Any) -> Any:
    if not isinstance(name, str):
        return name
    try:
        return backend.get_role(name).name
    except NotFoundException:
        return name


def _with_stored_name(
    function: Callable[..., Any], parameter: str, stored: Callable[[IAMBackend, Any], Any]
) -> Callable[..., Any]:
    """``function`` with its ``parameter`` replaced by the stored spelling, for the moto methods
    that compare or record the name they are given rather than the entity's."""
    signature = inspect.signature(function)

    @functools.wraps(function)
    def wrapper(self: IAMBackend, *args: Any, **kwargs: Any) -> Any:
        bound = signature.bind(self, *args, **kwargs)
        if parameter in bound.arguments:
            bound.arguments[parameter] = stored(self, bound.arguments[parameter])
        return function(*bound.args, **bound.kwargs)

    wrapper.__wrapped_by_iam_case__ = True  # type: ignore[attr-defined]
    return wrapper


_NAME_ARGUMENTS = {
    "delete_role": ("role_name", _stored_role),
    "get_instance_profiles_for_role": ("role_name", _stored_role),
    "upload_signing_certificate": ("user_name", _stored_user),
}


# Requests: the name a request gives, resolved to the stored spelling.

_REQUEST_NAMES: dict[str, tuple[str, Callable[[IAMBackend, Any], Any]]] = {
    "UserName": ("CreateUser", _stored_user),
    "GroupName": ("CreateGroup", _stored_group),
    "RoleName": ("CreateRole", _stored_role),
}


def _get_param(self: IamResponse, param_name: str, if_none: Any = None) -> Any:
    value = _original["_get_param"](self, param_name, if_none)
    resolver = _REQUEST_NAMES.get(param_name)
    if resolver is None or not isinstance(value, str):
        return value
    creating, stored = resolver
    if self._get_action() == creating:  # the new name, as asked (and as the duplicate error says)
        return value
    return stored(self.backend, value)


_original: dict[str, Any] = {}


def apply() -> None:
    """Idempotent: patch moto's IAM classes once per process, and fold the names of any IAM
    backend that already exists (two spellings kept by then merge into the last)."""
    with _lock:
        if getattr(IAMBackend, _MARK, False):
            return
        _original["__init__"] = IAMBackend.__init__
        _original["create_role"] = IAMBackend.create_role
        _original["update_user"] = IAMBackend.update_user
        _original["_get_param"] = IamResponse._get_param
        IAMBackend.__init__ = _init  # type: ignore[method-assign]
        IAMBackend.get_role = _get_role  # type: ignore[method-assign]
        IAMBackend.create_role = _create_role  # type: ignore[method-assign]
        IAMBackend.update_user = _update_user  # type: ignore[method-assign]
        for name, (parameter, stored) in _NAME_ARGUMENTS.items():
            setattr(
                IAMBackend, name, _with_stored_name(getattr(IAMBackend, name), parameter, stored)
            )
        IamResponse._get_param = _get_param  # type: ignore[assignment]
        for account in list(dict.values(iam_backends)):
            for backend in list(dict.values(account)):
                _fold_backend(backend)
        setattr(IAMBackend, _MARK, True)
