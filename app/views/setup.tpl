% rebase('layout.tpl', title=t('setup_title'))
<main class="narrow">
<h1>{{t('setup_title')}}</h1>
<p>{{t('setup_intro')}}</p>
<pre class="example">{{t('setup_log_example')}}</pre>
% if error:
<p class="alert error" role="alert" id="error">{{t(error, wait=wait)}}</p>
% end
<form method="post" action="/setup" class="card" autocomplete="off">
  <input type="hidden" name="csrf" value="{{csrf}}">
  <label for="code">{{t('setup_code')}}</label>
  <input id="code" name="code" required autocomplete="off" spellcheck="false" placeholder="ABCD-EFGH" autofocus>
  <input type="text" name="username" value="admin" autocomplete="username" hidden>
  <label for="password">{{t('new_password')}}</label>
  <input id="password" name="password" type="password" required minlength="8" autocomplete="new-password">
  <p class="help">{{t('password_rule')}}</p>
  <label for="confirm">{{t('confirm_password')}}</label>
  <input id="confirm" name="confirm" type="password" required minlength="8" autocomplete="new-password">
  <button type="submit" class="primary" id="setup-submit">{{t('setup_submit')}}</button>
</form>
</main>
