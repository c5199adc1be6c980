"""The dairy marketplace as a Django 3.2 application would write it, for
the N+1 TAP test (test/t/022_nplus1_django.pl).  Models over the tables of
test/workload/schema.sql (managed = False: the test creates them); each
scenario is code as found in views and jobs, and the SQL is Django's own.

    /usr/bin/python3 shop.py HOST PORT DBNAME SCENARIO

Every statement carries SQLCommenter-style tags naming the view, added by
a connection wrapper the way django-sqlcommenter / google-cloud-sqlcommenter
do.
"""
import os
import sys

import django
from django.conf import settings

host, port, dbname, scenario = sys.argv[1:5]
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

settings.configure(
    DATABASES={'default': {
        'ENGINE': 'django.db.backends.postgresql',
        'HOST': host, 'PORT': port, 'NAME': dbname, 'USER': 'postgres',
        'OPTIONS': {'application_name': 'django_shop'},
    }},
    INSTALLED_APPS=['shop_app'],
    USE_TZ=True,
    DEFAULT_AUTO_FIELD='django.db.models.BigAutoField',
)
django.setup()

from django.db import connection, models, transaction  # noqa: E402
from django.utils import timezone  # noqa: E402


class Farm(models.Model):
    name = models.TextField()
    region = models.TextField()

    class Meta:
        app_label = 'shop_app'
        db_table = 'farms'
        managed = False


class User(models.Model):
    email = models.TextField()
    full_name = models.TextField()
    region = models.TextField()

    class Meta:
        app_label = 'shop_app'
        db_table = 'users'
        managed = False


class Product(models.Model):
    farm = models.ForeignKey(Farm, on_delete=models.PROTECT)
    sku = models.TextField()
    name = models.TextField()
    category = models.TextField()
    price = models.DecimalField(max_digits=10, decimal_places=2)
    stock = models.IntegerField()

    class Meta:
        app_label = 'shop_app'
        db_table = 'products'
        managed = False


class Order(models.Model):
    id = models.BigAutoField(primary_key=True)
    user = models.ForeignKey(User, on_delete=models.PROTECT)
    status = models.TextField()
    total = models.DecimalField(max_digits=12, decimal_places=2)
    created_at = models.DateTimeField()

    class Meta:
        app_label = 'shop_app'
        db_table = 'orders'
        managed = False


class OrderItem(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name='items',
                              db_constraint=False)
    product = models.ForeignKey(Product, on_delete=models.PROTECT)
    quantity = models.IntegerField()
    unit_price = models.DecimalField(max_digits=10, decimal_places=2)

    class Meta:
        app_label = 'shop_app'
        db_table = 'order_items'
        managed = False


class Payment(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name='payments',
                              db_constraint=False)
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    method = models.TextField()
    status = models.TextField()

    class Meta:
        app_label = 'shop_app'
        db_table = 'payments'
        managed = False


class Notification(models.Model):
    user = models.ForeignKey(User, on_delete=models.PROTECT)
    kind = models.TextField()
    payload = models.JSONField()
    read_at = models.DateTimeField(null=True)
    created_at = models.DateTimeField()

    class Meta:
        app_label = 'shop_app'
        db_table = 'notifications'
        managed = False


def sqlcommenter(view):
    """Append the view's tags to every statement, as sqlcommenter does."""
    def wrapper(execute, sql, params, many, context):
        tags = ("/*controller='shop',action='" + view + "',framework='django%3A3.2',"
                "traceparent='00-5bd66ef5095369c7b0d1f8f4bd33716a-c532cb4098ac3dd2-01'*/")
        if params is not None:
            tags = tags.replace('%', '%%')   # psycopg2 interpolates the text
        return execute(sql + ' ' + tags, params, many, context)
    return connection.execute_wrapper(wrapper)


def farm_page():
    """One association per row: each product's farm, lazily."""
    for p in Product.objects.filter(category='milk').order_by('id')[:15]:
        p.farm.name


def order_list():
    """Two associations per row: each order's customer and its payments."""
    for o in Order.objects.filter(status='paid').order_by('id')[:15]:
        o.user.full_name
        list(o.payments.all())


def order_details():
    """A nested association: each order's items, then each item's product."""
    for o in Order.objects.filter(status='delivered').order_by('id')[:12]:
        for item in o.items.all():
            item.product.name


def restock():
    """Row-by-row saves."""
    for p in Product.objects.filter(farm_id=2).order_by('id'):
        p.stock += 1
        p.save()


def order_list_eager():
    """The eager-loading forms of the same pages."""
    for o in (Order.objects.filter(status='paid').select_related('user')
              .prefetch_related('payments', 'items__product').order_by('id')[:15]):
        o.user.full_name
        list(o.payments.all())
        for item in o.items.all():
            item.product.name
    for p in Product.objects.filter(category='milk').select_related('farm')[:15]:
        p.farm.name


def job_worker():
    """A job-queue worker: one short transaction per job, back to back."""
    while True:
        with transaction.atomic():
            job = (Notification.objects.select_for_update(skip_locked=True)
                   .filter(read_at__isnull=True).order_by('id').first())
            if job is None:
                return
            job.read_at = timezone.now()
            job.save(update_fields=['read_at'])


def bulk_reviews():
    """A bulk INSERT ... SELECT into a table with foreign keys (Django has
    no ORM form for it: the application's raw SQL on its connection)."""
    with connection.cursor() as cur:
        cur.execute("INSERT INTO reviews (product_id, user_id, rating, body) "
                    "SELECT p.id, u.id, 5, 'imported' FROM products p, users u "
                    "WHERE u.id <= %s", [20])


def hot_endpoint():
    """A product page served to many requests (ATOMIC_REQUESTS: each
    request its own transaction)."""
    for i in range(60):
        with transaction.atomic():
            p = Product.objects.get(pk=1 + i % 40)
            p.farm.region


def export_orders():
    """Keyset pagination through the orders, in one transaction."""
    with transaction.atomic():
        Order.objects.count()
        last = 0
        while True:
            page = list(Order.objects.filter(id__gt=last).order_by('id')[:5])
            if not page:
                break
            last = page[-1].id


with sqlcommenter(scenario):
    globals()[scenario]()
