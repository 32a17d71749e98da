"""Import of spreadsheets into the archive: one engine behind `kehu import` and the web wizard."""
