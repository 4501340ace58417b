<div class="channels" id="{{item.name}}">
% # Only the field a refusal names is marked; the others keep what was typed, unmarked.
% wrong_row = error.params.get('row') if error else None
% for row in rows:
%   i = row['index']
%   old = row['old']
%   wrong = error.params.get('field') if wrong_row and row.get('position') == wrong_row else None
  <fieldset class="channel" id="channel-{{i}}">
    <legend>{{row['name'] or t('ch_new')}}</legend>
    <div class="pair{{' invalid' if wrong == 'name' else ''}}">
      <label for="ch-{{i}}-name">{{t('ch_name')}}</label>
      <input id="ch-{{i}}-name" name="ch-{{i}}-name" value="{{row['name']}}" spellcheck="false">
    </div>
    <div class="pair{{' invalid' if wrong == 'context' else ''}}">
      <label for="ch-{{i}}-context">{{t('ch_context')}}</label>
      <select id="ch-{{i}}-context" name="ch-{{i}}-context">
      % for context in ('shared', 'per_user'):
        <option value="{{context}}"{{!' selected' if row['context'] == context else ''}}>{{t('ch_ctx_' + context)}}</option>
      % end
      </select>
    </div>
    <div class="pair{{' invalid' if wrong == 'token' else ''}}">
      <label for="ch-{{i}}-token">{{t('ch_token')}}</label>
      % if old:
      <p class="secret-state">{{t('secret_set', tail=old.outgoing_token[-4:])}}</p>
      % end
      <input type="password" id="ch-{{i}}-token" name="ch-{{i}}-token" autocomplete="new-password" spellcheck="false" placeholder="{{t('secret_replace') if old else t('secret_enter')}}" value="{{row.get('token', '')}}">
    </div>
    <div class="pair{{' invalid' if wrong == 'url' else ''}}">
      <label for="ch-{{i}}-url">{{t('ch_url')}}</label>
      % if old:
      <p class="secret-state">{{t('secret_set', tail=old.incoming_url.removesuffix('%22')[-4:])}}</p>
      % end
      <input type="password" id="ch-{{i}}-url" name="ch-{{i}}-url" autocomplete="new-password" spellcheck="false" placeholder="{{t('secret_replace') if old else t('ch_url_hint')}}" value="{{row.get('url', '')}}">
    </div>
    <div class="pair{{' invalid' if wrong == 'triggers' else ''}}">
      <label for="ch-{{i}}-triggers">{{t('ch_triggers')}}</label>
      <input id="ch-{{i}}-triggers" name="ch-{{i}}-triggers" value="{{row['triggers']}}" spellcheck="false" placeholder="@ai, 小助手">
    </div>
    % if old:
    <label class="inline small"><input type="checkbox" name="ch-{{i}}-delete" id="ch-{{i}}-delete" value="1"{{!' checked' if row['delete'] else ''}}> {{t('ch_delete')}}</label>
    % end
  </fieldset>
% end
</div>
