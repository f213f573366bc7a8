"""What the configuration files say that the service would not read.

oslo.config ignores a section or an option nobody registered, so a
misspelt ``[database] connection`` would leave a command on the
embedded SQLite database without a word. :func:`check` reads the files
oslo.config read again, with oslo.config's own parser, and compares
them with the options the service and its libraries declare: those
registered so far, then those the sample configuration file lists
(libraries such as keystonemiddleware register theirs only once they
are used).
"""

import dataclasses
import difflib
import glob
import importlib.metadata
import os
import warnings

from oslo_config import cfg, iniparser

#: Where the service's options come from, as ``oslo.config.opts``
#: entry points: the namespaces of
#: etc/panko_like/panko_like-config-generator.conf (a test keeps them
#: the same).
NAMESPACES = (
    "panko_like",
    "oslo.log",
    "oslo.policy",
    "oslo.middleware.cors",
    "oslo.middleware.http_proxy_to_wsgi",
    "oslo.middleware.healthcheck",
    "keystonemiddleware.auth_token",
    "oslo.messaging",
)

#: The group of keystonemiddleware, whose options also depend on the
#: keystoneauth plugin its ``auth_type`` names (in it or in the group
#: its ``auth_section`` names).
AUTH_GROUP = "keystone_authtoken"

#: The storage URL: without it the service would fall back to the
#: embedded database, so any doubt about it is an error.
DATABASE = "database"
CONNECTION = "connection"


@dataclasses.dataclass
class Findings:
    """What :func:`check` found: ``errors`` stop the command,
    ``warnings`` are logged."""

    errors: list[str] = dataclasses.field(default_factory=list)
    warnings: list[str] = dataclasses.field(default_factory=list)


def has_config_file(conf: cfg.ConfigOpts) -> bool:
    """Whether oslo.config found any configuration file or directory,
    given on the command line or in one of its default places."""
    return bool(conf.config_file or conf.config_dir)


def config_files(conf: cfg.ConfigOpts) -> list[str]:
    """The files oslo.config read, in its order: ``--config-file``
    then the ``*.conf`` of ``--config-dir``."""
    files = list(conf.config_file or [])
    dirs = conf.config_dir or []
    for directory in [dirs] if isinstance(dirs, str) else dirs:
        pattern = os.path.join(os.path.expanduser(directory), "*.conf")
        files += sorted(glob.glob(pattern))
    return files


def _group_name(section: str) -> str:
    # As oslo.config names a section's group.
    return section if section == "DEFAULT" else section.lower()


def read(path: str) -> dict[str, dict[str, str]]:
    """``{group: {option: last value}}`` of the file at ``path``."""
    sections: dict[str, dict[str, list[str]]] = {}
    try:
        cfg.ConfigParser(path, sections).parse()
    except (OSError, iniparser.ParseError):
        return {}  # oslo.config read it already, or said why not
    parsed: dict[str, dict[str, str]] = {}
    for section, options in sections.items():
        group = parsed.setdefault(_group_name(section), {})
        group.update((key, values[-1]) for key, values in options.items())
    return parsed


class Known:
    """The groups and options the service reads.

    A group maps to the set of its options' names, or to None when
    they cannot be known (the group an ``auth_section`` names without
    an ``auth_type``, or a keystoneauth plugin that is not installed).
    """

    def __init__(self, conf: cfg.ConfigOpts, files: list[dict]):
        self.groups: dict[str, set[str] | None] = {"DEFAULT": set()}
        self._files = files
        self._loaded = False
        for name in conf:
            value = conf[name]
            if isinstance(value, cfg.ConfigOpts.GroupAttr):
                self._add_names(name, set(value))
            else:
                self._add_names("DEFAULT", {name})

    def _add_names(self, group: str, names: set[str]) -> None:
        known = self.groups.setdefault(group, set())
        if known is not None:
            known.update(names)

    def _add(self, group, options) -> None:
        name = getattr(group, "name", group) or "DEFAULT"
        for opt in options:
            self._add_names(name, {opt.name, opt.dest})
            for old in opt.deprecated_opts:
                self._add_names(old.group or name, {old.name or opt.name})

    def _setting(self, group: str, option: str) -> str | None:
        values = [f[group][option] for f in self._files
                  if option in f.get(group, {})]
        return values[-1] if values else None

    def _add_auth_plugin(self) -> None:
        """The options of the keystoneauth plugin auth_token loads."""
        section = self._setting(AUTH_GROUP, "auth_section")
        group = _group_name(section) if section else AUTH_GROUP
        plugin = self._setting(group, "auth_type")
        if not plugin:
            if section:
                self.groups[group] = None
            return
        try:
            from keystoneauth1 import loading

            options = [*loading.get_auth_common_conf_options(),
                       *loading.get_auth_plugin_conf_options(plugin)]
        except Exception:  # no keystoneauth1, or no such plugin
            self.groups[group] = None
            return
        self._add(group, options)

    def load_namespaces(self) -> None:
        """Add the options of :data:`NAMESPACES`, once; importing them
        costs, so only when a file holds what is not registered yet."""
        if self._loaded:
            return
        self._loaded = True
        points = importlib.metadata.entry_points(group="oslo.config.opts")
        for point in points:
            if point.name not in NAMESPACES:
                continue
            try:
                with warnings.catch_warnings():
                    # oslo.messaging's import loads eventlet, which
                    # warns that it is deprecated: not the operator's
                    # concern, and not on a command's standard error.
                    warnings.simplefilter("ignore", DeprecationWarning)
                    warnings.filterwarnings(
                        "ignore", message=r"\s*Eventlet is deprecated")
                    listed = point.load()()
            except Exception:  # a library missing: its options unknown
                continue
            for group, options in listed:
                self._add(group, options)
        self._add_auth_plugin()

    def knows(self, group: str, option: str | None = None) -> bool:
        """Whether ``[group]`` (and its ``option``) is read."""
        if not self._known(group, option):
            self.load_namespaces()
        return self._known(group, option)

    def _known(self, group, option) -> bool:
        if group not in self.groups:
            return False
        options = self.groups[group]
        return option is None or options is None or (
            option in options or option.replace("-", "_") in options)

    def options(self, group: str) -> set[str]:
        return self.groups.get(group) or set()


def _closest(word: str, choices, cutoff=0.6) -> str | None:
    close = difflib.get_close_matches(word, sorted(choices), 1, cutoff)
    return close[0] if close else None


def _did_you_mean(word: str, choices, form="{}") -> str:
    close = _closest(word, choices)
    return f" (did you mean {form.format(close)}?)" if close else ""


def check(conf: cfg.ConfigOpts) -> Findings:
    """What the configuration files hold that the service would ignore,
    and whether ``[database] connection`` is set when it must be."""
    findings = Findings()
    if not has_config_file(conf):
        return findings  # the embedded database, on purpose
    paths = config_files(conf)
    files = [read(path) for path in paths]
    known = Known(conf, files)
    required = not conf.database.connection
    if required:
        where = ", ".join(paths) or f"--config-dir {conf.config_dir}"
        findings.errors.append(
            f"[{DATABASE}] {CONNECTION} is not set in {where}: with a "
            "configuration file it is required (the embedded database "
            "serves only when there is no configuration file at all)")
    for path, parsed in zip(paths, files, strict=True):
        for group, options in parsed.items():
            if not known.knows(group):
                _unknown_group(findings, known, path, group, options)
                continue
            for option in options:
                if known.knows(group, option):
                    continue
                message = (f"[{group}] {option} in {path} is not an option"
                           + _did_you_mean(option, known.options(group)))
                if required and group == DATABASE and _closest(
                        option, [CONNECTION], 0.8):
                    findings.errors.append(message)
                else:
                    findings.warnings.append(f"{message}: ignored")
    return findings


def _unknown_group(findings, known, path, group, options) -> None:
    """A section no option is registered in: an error when it looks
    meant for the storage URL, else a warning."""
    message = f"[{group}] in {path} is not a section panko_like reads"
    if _closest(group, [DATABASE], 0.8):
        findings.errors.append(f"{message} (did you mean [{DATABASE}]?)")
    elif CONNECTION in options:
        findings.errors.append(
            f"{message} (the storage URL is [{DATABASE}] {CONNECTION})")
    else:
        findings.warnings.append(
            message + _did_you_mean(group, known.groups, "[{}]")
            + ": ignored")
