"""Spreadsheet exchange: templates, importers, uploads with preview, admin import-export."""
