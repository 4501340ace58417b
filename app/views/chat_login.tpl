% rebase('layout.tpl', title=t('wc_login_title'))
<main class="narrow">
<h1>{{t('wc_login_title')}}</h1>
% if error:
<p class="alert error" role="alert" id="error">{{t(error, wait=wait)}}</p>
% end
<form method="post" action="/chat/login" class="card">
  <input type="hidden" name="csrf" value="{{csrf}}">
  <label for="name">{{t('account_name')}}</label>
  <input id="name" name="name" required autocomplete="username" autofocus>
  <label for="password">{{t('password')}}</label>
  <input id="password" name="password" type="password" required autocomplete="current-password">
  <button type="submit" class="primary" id="login-submit">{{t('login_submit')}}</button>
</form>
<p class="help">{{t('wc_login_help')}}</p>
</main>
