<div class="field{{' invalid' if error else ''}}{{' fixed' if fixed else ''}}" id="field-{{item.name}}">
  % if item.kind == 'bool' and not fixed:
  <label class="inline"><input type="checkbox" name="{{item.name}}" id="{{item.name}}" value="true"{{!' checked' if (shown == 'true' if shown is not None else value) else ''}}> {{t.label(item)}}</label>
  % else:
  <label for="{{item.name}}">{{t.label(item)}}</label>
  % end
  % if fixed:
  <output id="{{item.name}}">{{t.shown(item, value)}}</output>
  <p class="note">{{t('fixed_by', env=item.env)}}</p>
  % elif item.kind == 'channels':
  %   include('channels.tpl', item=item, error=error, rows=channel_rows(value, shown))
  % elif item.kind == 'accounts':
  %   include('accounts.tpl', item=item, value=value, typed=shown or '')
  % elif item.kind == 'tokens':
  %   include('tokens.tpl', item=item, value=value)
  % elif item.kind == 'list':
  <textarea name="{{item.name}}" id="{{item.name}}" rows="2" spellcheck="false"{{!' aria-invalid="true"' if error else ''}}>{{shown if shown is not None else '\n'.join(value)}}</textarea>
  % elif item.secret:
  <p class="secret-state" id="state-{{item.name}}">{{t('secret_typed') if shown else (t('secret_set', tail=t.tail(item, value)) if value else t('secret_unset'))}}</p>
  <input type="password" name="{{item.name}}" id="{{item.name}}" autocomplete="new-password" spellcheck="false" placeholder="{{t('secret_replace') if value else t('secret_enter')}}" value="{{shown or ''}}"{{!' aria-invalid="true"' if error else ''}}>
  %   if value:
  <label class="inline small"><input type="checkbox" name="clear_{{item.name}}" id="clear_{{item.name}}" value="1"> {{t('secret_clear')}}</label>
  %   end
  % elif item.kind == 'text':
  <textarea name="{{item.name}}" id="{{item.name}}" rows="4" maxlength="{{item.longest}}"{{!' aria-invalid="true"' if error else ''}}>{{shown if shown is not None else value}}</textarea>
  <p class="help" id="limit-{{item.name}}">{{t('at_most_chars', max=f'{item.longest:,}')}}</p>
  % elif item.kind == 'choice':
  <select name="{{item.name}}" id="{{item.name}}">
    % for choice in item.choices:
    <option value="{{choice}}"{{!' selected' if choice == (shown if shown is not None else value) else ''}}>{{t.choice(item, choice)}}</option>
    % end
  </select>
  % elif item.kind != 'bool':
  <input type="{{'url' if item.kind == 'url' else 'text'}}" name="{{item.name}}" id="{{item.name}}" value="{{shown if shown is not None else t.typed(item, value)}}"{{!' inputmode="decimal"' if item.kind in ('int', 'float') else ' maxlength="%d"' % item.longest}} spellcheck="false"{{!' aria-invalid="true"' if error else ''}}>
  % end
  % if error:
  <p class="field-error" id="error-{{item.name}}">{{t.problem(error)}}</p>
  % end
  <p class="help">{{t.help(item)}}</p>
</div>
