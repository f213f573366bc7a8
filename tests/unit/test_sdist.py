"""The source distribution carries what an operator and a packager need
beside the package: the sample configuration, the license, the
documentation, the tests and the release notes."""

import os
import subprocess
import sys
import tarfile
import tempfile
import unittest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))

try:
    from setuptools import build_meta  # noqa: F401
except ImportError:  # pragma: no cover - virtualenvs without setuptools
    build_meta = None

EXPECTED = (
    "etc/panko_like/panko_like.conf.sample",
    "etc/panko_like/policy.yaml.sample",
    "etc/panko_like/panko_like-config-generator.conf",
    "LICENSE",
    "README.rst",
    "doc/source/index.rst",
    "doc/source/conf.py",
    "doc/requirements.txt",
    "releasenotes/source/conf.py",
    "tox.ini",
    ".stestr.conf",
    "tests/unit/test_sdist.py",
)


@unittest.skipIf(build_meta is None, "setuptools is not installed")
@unittest.skipUnless(os.path.exists(os.path.join(ROOT, "setup.cfg")),
                     "not run from a source tree")
class TestSdist(unittest.TestCase):
    def build(self):
        """Build the sdist as a build frontend does, without a network:
        the setuptools of this environment's own, in a subprocess."""
        out = self.enterContext(tempfile.TemporaryDirectory())
        result = subprocess.run(
            [sys.executable, "-c",
             "import sys; from setuptools import build_meta; "
             "print(build_meta.build_sdist(sys.argv[1]))", out],
            cwd=ROOT, capture_output=True, text=True, timeout=300,
            stdin=subprocess.DEVNULL,
        )
        self.assertEqual(0, result.returncode, result.stderr)
        name = result.stdout.strip().splitlines()[-1]
        with tarfile.open(os.path.join(out, name)) as archive:
            members = archive.getnames()
        top = name[:-len(".tar.gz")]
        return {m[len(top) + 1:] for m in members if m.startswith(top + "/")}

    def test_sdist_contents(self):
        files = self.build()
        for path in EXPECTED:
            self.assertIn(path, files)
        self.assertTrue(any(p.startswith("releasenotes/notes/")
                            and p.endswith(".yaml") for p in files))
        self.assertTrue(any(p.startswith("tests/functional/")
                            for p in files))
        for path in files:
            self.assertFalse(path.startswith(("doc/build/", ".tox/")), path)
            self.assertNotIn(".coverage", path)
