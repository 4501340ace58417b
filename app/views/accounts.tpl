% if value:
<ul class="tokens" id="{{item.name}}-list">
  % for i, account in enumerate(value):
  <li><strong>{{account['name']}}</strong>
    <label class="inline small"><input type="checkbox" name="remove-account-{{i}}" id="remove-account-{{i}}" value="1"> {{t('token_remove')}}</label></li>
  % end
</ul>
% end
<div class="channel">
  <div class="pair">
    <label for="account-name">{{t('account_name')}}</label>
    <input id="account-name" name="account-name" value="{{typed}}" autocomplete="off" spellcheck="false">
  </div>
  <div class="pair">
    <label for="account-password">{{t('account_password')}}</label>
    <input type="password" id="account-password" name="account-password" autocomplete="new-password">
  </div>
</div>
<p class="help"><a href="/chat" id="open-chat">{{t('open_chat')}}</a></p>
