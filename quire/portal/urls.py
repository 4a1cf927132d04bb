from django.urls import path

from quire.portal.views import api_keys, auth, billing, documents, jobs, members, reviews, webhooks

app_name = "portal"

urlpatterns = [
    path("", auth.home, name="home"),
    path("login", auth.SignInView.as_view(), name="login"),
    path("logout", auth.SignOutView.as_view(), name="logout"),
    path("password-reset", auth.PasswordResetView.as_view(), name="password_reset"),
    path("password-reset/sent", auth.PasswordResetDoneView.as_view(), name="password_reset_done"),
    path(
        "password-reset/<uidb64>/<token>",
        auth.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path("password-reset/done", auth.PasswordResetCompleteView.as_view(), name="password_reset_complete"),
    path("documents", documents.document_list, name="documents"),
    path("documents/table", documents.document_table, name="document_table"),
    path("documents/<str:document_id>", documents.document_detail, name="document"),
    path("documents/<str:document_id>/delete", documents.document_remove, name="document_delete"),
    path("jobs", jobs.job_list, name="jobs"),
    path("jobs/table", jobs.job_table, name="job_table"),
    path("jobs/<str:job_id>", jobs.job_detail, name="job"),
    path("jobs/<str:job_id>/progress", jobs.job_progress, name="job_progress"),
    path("jobs/<str:job_id>/result.json", jobs.job_result_json, name="job_result_json"),
    path("jobs/<str:job_id>/cancel", jobs.job_stop, name="job_cancel"),
    path("reviews", reviews.review_list, name="reviews"),
    path("reviews/<str:job_id>", reviews.review_detail, name="review"),
    path("reviews/<str:job_id>/grid", reviews.review_grid, name="review_grid"),
    path("reviews/<str:job_id>/cell", reviews.review_cell, name="review_cell"),
    path("reviews/<str:job_id>/result.csv", reviews.review_export, {"fmt": "csv"}, name="review_csv"),
    path("reviews/<str:job_id>/result.xlsx", reviews.review_export, {"fmt": "xlsx"}, name="review_xlsx"),
    path("api-keys", api_keys.api_key_list, name="api_keys"),
    path("api-keys/<str:key_id>/revoke", api_keys.api_key_revoke_view, name="api_key_revoke"),
    path("webhooks", webhooks.webhook_list, name="webhooks"),
    path("webhooks/<str:endpoint_id>", webhooks.webhook_detail, name="webhook"),
    path("webhooks/<str:endpoint_id>/secret", webhooks.webhook_secret, name="webhook_secret"),
    path("webhooks/<str:endpoint_id>/rotate", webhooks.webhook_rotate, name="webhook_rotate"),
    path("webhooks/<str:endpoint_id>/delete", webhooks.webhook_delete, name="webhook_delete"),
    path("webhooks/<str:endpoint_id>/test", webhooks.webhook_test, name="webhook_test"),
    path(
        "webhooks/<str:endpoint_id>/deliveries/<str:delivery_id>/replay",
        webhooks.webhook_replay,
        name="webhook_replay",
    ),
    path("billing", billing.billing_overview, name="billing"),
    path("billing/checkout", billing.billing_checkout, name="billing_checkout"),
    path("billing/portal", billing.billing_portal, name="billing_portal"),
    path("members", members.member_list, name="members"),
    path("members/<int:member_id>/role", members.member_role, name="member_role"),
    path("members/<int:member_id>/remove", members.member_delete, name="member_remove"),
]
