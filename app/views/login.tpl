% rebase('layout.tpl', title=t('login_title'))
<main class="narrow">
<h1>{{t('login_title')}}</h1>
% if message:
<p class="alert ok" role="status" id="message">{{t('msg_' + message)}}</p>
% end
% if error:
<p class="alert error" role="alert" id="error">{{t(error, wait=wait)}}</p>
% end
<form method="post" action="/login" class="card">
  <input type="hidden" name="csrf" value="{{csrf}}">
  <input type="text" name="username" value="admin" autocomplete="username" hidden>
  <label for="password">{{t('password')}}</label>
  <input id="password" name="password" type="password" required autocomplete="current-password" autofocus>
  <button type="submit" class="primary" id="login-submit">{{t('login_submit')}}</button>
</form>
% if password_fixed:
<p class="help">{{t('pw_fixed')}}</p>
% else:
<p class="help">{{t('login_forgot_' + runtime)}}</p>
<pre class="example" id="reset-command">{{reset_command}}</pre>
% end
</main>
