"""The PostgreSQL warehouse: connection, migrations, the day load and its audit."""
