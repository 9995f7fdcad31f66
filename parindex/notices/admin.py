from django.contrib import admin

from parindex.notices.models import Notification


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["created_at", "user", "title", "read_at"]
    list_filter = ["event"]
    search_fields = ["title", "user__username"]
    raw_id_fields = ["user"]
    readonly_fields = ["created_at"]
