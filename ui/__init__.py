"""The Gradio analytics dashboard: queries.py (all database access), charts.py and cards.py (pure
rendering), theme.py (the look), app.py (Blocks wiring and `serve`)."""
