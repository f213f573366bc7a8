import warnings

from sqlalchemy import exc as sa_exc

# SQLAlchemy warnings point at real bugs: fail the test that raises one.
warnings.filterwarnings("error", category=sa_exc.SAWarning)
warnings.filterwarnings("error", category=sa_exc.SADeprecationWarning)
