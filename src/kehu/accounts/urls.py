from django.contrib.auth import views as auth_views
from django.urls import path

from kehu.accounts import permission_views, views

app_name = "accounts"

urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("password/", views.PasswordChangeView.as_view(), name="password_change"),
    path("2fa/verify/", views.two_factor_verify, name="two_factor_verify"),
    path("2fa/", views.two_factor_setup, name="two_factor_setup"),
    path("2fa/start/", views.two_factor_start, name="two_factor_start"),
    path("2fa/confirm/", views.two_factor_confirm, name="two_factor_confirm"),
    path("2fa/recovery-codes/", views.two_factor_recovery_codes, name="two_factor_recovery_codes"),
    path("2fa/disable/", views.two_factor_disable, name="two_factor_disable"),
    path("tokens/", views.tokens, name="tokens"),
    path("tokens/<int:token_id>/revoke/", views.token_revoke, name="token_revoke"),
    path("users/", views.users, name="users"),
    path("users/unlock/", views.unlock, name="unlock"),
    path("users/<int:user_id>/deactivate/", views.user_deactivate, name="user_deactivate"),
    path("users/<int:user_id>/reactivate/", views.user_reactivate, name="user_reactivate"),
    path("users/<int:user_id>/2fa-reset/", views.two_factor_reset, name="two_factor_reset"),
    path("roles/", permission_views.role_list, name="roles"),
    path("roles/new/", permission_views.role_edit, name="role_create"),
    path("roles/<int:role_id>/", permission_views.role_edit, name="role_edit"),
    path("roles/<int:role_id>/delete/", permission_views.role_delete, name="role_delete"),
    path("shares/<str:kind>/<int:object_id>/", permission_views.share_create, name="share_create"),
    path("shares/<str:kind>/<int:object_id>/<int:share_id>/revoke/", permission_views.share_revoke,
         name="share_revoke"),
]
