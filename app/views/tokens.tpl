% if value:
<ul class="tokens" id="{{item.name}}-list">
  % for i, token in enumerate(value):
  <li><span class="secret-state">{{t('secret_set', tail=token[-4:])}}</span>
    <label class="inline small"><input type="checkbox" name="remove-slash-{{i}}" id="remove-slash-{{i}}" value="1"> {{t('token_remove')}}</label></li>
  % end
</ul>
% else:
<p class="secret-state" id="state-{{item.name}}">{{t('secret_unset')}}</p>
% end
<input type="password" name="{{item.name}}" id="{{item.name}}" autocomplete="new-password" spellcheck="false" placeholder="{{t('token_add')}}">
