"""The data layer: tables, repositories, migrations and transaction handling."""
