import unittest

from panko_like import service, storage
from panko_like.storage.sqlalchemy import mysql_hosts, urls


def conf_with(**database):
    conf = service.prepare_service([], config_files=[])
    for name, value in database.items():
        conf.set_override(name, value, group="database")
    return conf


class TestURLs(unittest.TestCase):
    def test_libpq_host_list(self):
        url = urls.make_url(
            "postgresql://u:p%40ss@pg1:5432,pg2:5433/events?sslmode=require")
        self.assertEqual("postgresql+psycopg", url.drivername)
        self.assertEqual(("u", "p@ss", "events"),
                         (url.username, url.password, url.database))
        self.assertEqual(("pg1:5432", "pg2:5433"), url.query["host"])
        self.assertEqual("require", url.query["sslmode"])
        self.assertEqual("read-write", url.query["target_session_attrs"])

    def test_sqlalchemy_repeated_hosts(self):
        url = urls.make_url("postgresql+psycopg://u@/db?host=a:1&host=b:2")
        self.assertEqual(("a:1", "b:2"), url.query["host"])
        self.assertEqual("read-write", url.query["target_session_attrs"])

    def test_explicit_session_attrs_are_kept(self):
        url = urls.make_url(
            "postgresql://u@a,b/db?target_session_attrs=any")
        self.assertEqual("any", url.query["target_session_attrs"])

    def test_bare_host_list_takes_options(self):
        conf = conf_with(user="panko", password="s3cret", port=6432,
                         connect_timeout=3)
        url = urls.make_url("pg1,pg2:7000/events", conf)
        self.assertEqual(("panko", "s3cret", "events"),
                         (url.username, url.password, url.database))
        self.assertEqual(("pg1:6432", "pg2:7000"), url.query["host"])
        self.assertEqual("3", url.query["connect_timeout"])
        self.assertEqual("postgresql", storage.scheme_of("pg1,pg2/events"))

    def test_single_host_unchanged_but_for_defaults(self):
        url = urls.make_url("postgresql://u@h:5/db")
        self.assertEqual(("h", 5), (url.host, url.port))
        self.assertNotIn("target_session_attrs", url.query)
        self.assertEqual("5", url.query["connect_timeout"])

    def test_other_backends(self):
        self.assertEqual(
            "utf8mb4", urls.make_url("mysql://r@h/db").query["charset"])
        self.assertEqual(
            "latin1",
            urls.make_url("mysql://r@h/db?charset=latin1").query["charset"])
        self.assertEqual("/tmp/a,b/x.sqlite",
                         urls.make_url("sqlite:////tmp/a,b/x.sqlite").database)

    def test_mariadb_is_read_as_mysql(self):
        # SQLAlchemy's "mariadb" dialect names itself so; the driver,
        # its migrations and its types know MySQL's name.
        for given, driver in (("mariadb://r@h/db", "mysql+pymysql"),
                              ("mariadb+pymysql://r@h/db", "mysql+pymysql"),
                              ("MariaDB+PyMySQL://r@h/db", "mysql+pymysql"),
                              ("mariadb+mariadbconnector://r@h/db",
                               "mysql+mariadbconnector")):
            with self.subTest(url=given):
                url = urls.make_url(given)
                self.assertEqual(driver, url.drivername)
                self.assertEqual(("r", "h", "db"),
                                 (url.username, url.host, url.database))
                self.assertEqual("utf8mb4", url.query["charset"])
        self.assertEqual("mariadb", storage.scheme_of("MariaDB://h/db"))

    def test_scheme_case_is_ignored(self):
        self.assertEqual("postgresql+psycopg",
                         urls.make_url("PostgreSQL://u@h/db").drivername)
        self.assertEqual("mysql+pymysql",
                         urls.make_url("MYSQL+PyMySQL://u@h/db").drivername)

    def test_bad_host(self):
        with self.assertRaises(ValueError):
            urls.make_url("postgresql://u@h:x:y,h2/db")


class TestMySQLHostLists(unittest.TestCase):
    def test_host_list(self):
        url = urls.make_url(
            "mysql+pymysql://u:p@db1:3306,db2:3307,[::1]/events")
        self.assertEqual("mysql+pymysql", url.drivername)
        self.assertEqual(("u", "p", "events"),
                         (url.username, url.password, url.database))
        self.assertIsNone(url.host)
        self.assertEqual(("db1:3306", "db2:3307", "[::1]"),
                         url.query["host"])
        # libpq's option means nothing to PyMySQL.
        self.assertNotIn("target_session_attrs", url.query)

    def test_hosts_and_ports(self):
        self.assertEqual(
            [("db1", 3306), ("db2", 3307), ("::1", 3306), ("::1", 3308),
             ("10.0.0.1", 3306)],
            mysql_hosts.HostList(
                ["db1", "db2:3307", "[::1]", "[::1]:3308", "10.0.0.1"],
                timeout=5).hosts)

    def test_bad_host(self):
        with self.assertRaises(ValueError):
            mysql_hosts.split_host("db1:x")
