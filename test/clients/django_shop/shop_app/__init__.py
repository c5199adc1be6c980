"""The Django app the models of ../shop.py belong to (app_label shop_app)."""
