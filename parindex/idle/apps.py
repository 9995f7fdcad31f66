from django.apps import AppConfig


class IdleConfig(AppConfig):
    name = "parindex.idle"
    label = "parindex_idle"

    def ready(self):
        from django.contrib.auth.signals import user_logged_in

        from parindex.idle.middleware import stamp_on_login

        user_logged_in.connect(stamp_on_login, dispatch_uid="parindex_idle_stamp")
